#include "fastbert/formats/fbm_format.h"

#include "fastbert/common/error.h"

namespace fastbert::fbm {

const char* linear_format_name(LinearFormat format) {
  switch (format) {
    case LinearFormat::dense_fp32: return "dense_fp32";
    case LinearFormat::dense_int8: return "dense_int8";
    case LinearFormat::sparse_4x1_int8: return "sparse_4x1_int8";
  }
  return "unknown";
}

LinearFormat parse_linear_format(const std::string& name, const std::string& source) {
  for (LinearFormat f : {LinearFormat::dense_fp32, LinearFormat::dense_int8, LinearFormat::sparse_4x1_int8})
    if (name == linear_format_name(f)) return f;
  throw Error(source + ": unknown linear format '" + name + "' (expected dense_fp32, dense_int8 or sparse_4x1_int8)");
}

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](int64_t v, const char* key) {
    if (v <= 0) throw Error(source + ": config '" + key + "' must be positive, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(num_heads, "num_heads");
  positive(intermediate_size, "intermediate_size");
  positive(max_position, "max_position");
  positive(type_vocab_size, "type_vocab_size");
  if (num_layers < 0) throw Error(source + ": config 'num_layers' must be >= 0");
  if (hidden_size % num_heads != 0)
    throw Error(source + ": config hidden_size " + std::to_string(hidden_size) + " is not a multiple of num_heads " +
                std::to_string(num_heads));
  if (!(layer_norm_eps > 0)) throw Error(source + ": config 'layer_norm_eps' must be positive");
}

std::string layer_prefix(int64_t layer) { return "encoder/layer_" + std::to_string(layer) + "/"; }
std::string linear_prefix(int64_t layer, const std::string& linear) { return layer_prefix(layer) + linear + "/"; }

}  // namespace fastbert::fbm
