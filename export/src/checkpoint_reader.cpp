#include "fastbert/export/checkpoint_reader.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/common/input_file.h"
#include "fastbert/formats/safetensors.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"

namespace fastbert {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json parse_json_file(const fs::path& file) {
  try {
    return json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw Error(file.string() + ": invalid JSON (" + e.what() + ")");
  }
}

std::string strip_bert_prefix(const std::string& name) {
  return name.rfind("bert.", 0) == 0 ? name.substr(5) : name;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

fbm::ModelConfig read_config(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw Error(file.string() + ": missing (a checkpoint needs config.json)");
  const json j = parse_json_file(file);
  if (!j.is_object()) throw Error(file.string() + ": not a JSON object");
  fbm::ModelConfig c;
  auto integer = [&](const char* key, int64_t* out) {
    if (!j.contains(key) || !j[key].is_number_integer())
      throw Error(file.string() + ": key '" + key + "' missing or not an integer");
    *out = j[key].get<int64_t>();
  };
  integer("vocab_size", &c.vocab_size);
  integer("hidden_size", &c.hidden_size);
  integer("num_hidden_layers", &c.num_layers);
  integer("num_attention_heads", &c.num_heads);
  integer("intermediate_size", &c.intermediate_size);
  integer("max_position_embeddings", &c.max_position);
  integer("type_vocab_size", &c.type_vocab_size);
  if (j.contains("layer_norm_eps")) {
    if (!j["layer_norm_eps"].is_number()) throw Error(file.string() + ": key 'layer_norm_eps' is not a number");
    c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  }
  const std::string act = j.value("hidden_act", std::string("gelu"));
  // The runtime's GELU kernels are the erf form, BERT's "gelu".
  if (act != "gelu")
    throw Error(file.string() + ": key 'hidden_act' is '" + act + "'; the runtime implements only \"gelu\" (erf form)");
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    throw Error(file.string() + ": key 'position_embedding_type' must be \"absolute\"");
  c.validate(file.string());
  return c;
}

// Reads the tokenizer of the checkpoint and builds it the way the engine
// will build it from the export, so that an export that succeeds loads: a
// vocabulary without [UNK]/[CLS]/[SEP]/[PAD], a SentencePiece model
// libsentencepiece cannot load, or more tokens than the embeddings have rows
// is refused here, naming the file.
CheckpointTokenizer read_tokenizer(const fs::path& dir, const fbm::ModelConfig& config) {
  CheckpointTokenizer t;
  t.spec = read_tokenizer_spec(dir);
  const std::string source = t.spec.file.string();
  const std::string data = read_file(t.spec.file);
  const std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(t.spec, data, source);
  if (tokenizer->vocab_size() > config.vocab_size)
    throw Error(source + ": the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                " tokens but config.json's vocab_size (the embedding rows) is " + std::to_string(config.vocab_size));
  if (t.spec.kind == TokenizerKind::wordpiece) t.vocab = parse_wordpiece_vocab(data, source);
  else t.model_bytes = data;
  return t;
}

float positive_float(const json& v, const fs::path& file, const std::string& key) {
  if (!v.is_number()) throw Error(file.string() + ": key '" + key + "' is " + v.dump() + ", expected a number");
  const double d = v.get<double>();
  if (!(d > 0) || !std::isfinite(d) || d > std::numeric_limits<float>::max() ||
      d < std::numeric_limits<float>::min())
    throw Error(file.string() + ": key '" + key + "' is " + v.dump() +
                ", expected a positive number within float32 range (1.2e-38 to 3.4e38)");
  return static_cast<float>(d);
}

// quantization.json as the compression stage writes it (docs/checkpoint.md):
// {"format": "fastbert-quantization", "version": 1, "layers": {name:
// {"weight_scales": [...], "input_scale": s, "input_zero_point": z, ...}}}.
std::map<std::string, LinearQuantization> read_quantization(const fs::path& file) {
  const json j = parse_json_file(file);
  std::map<std::string, LinearQuantization> out;
  std::string key = "format";
  try {
    if (j.at("format") != "fastbert-quantization")
      throw Error(file.string() + ": key 'format' is not \"fastbert-quantization\"");
    key = "version";
    if (j.at("version").get<int64_t>() != 1)
      throw Error(file.string() + ": key 'version' is " + j.at("version").dump() + "; this build reads version 1");
    for (const auto& [name, l] : j.at("layers").items()) {
      key = "layers." + name;
      LinearQuantization q;
      // The runtime stores scales as float32 and zero points as int32 and
      // refuses what does not fit; read them exactly here (no silent float
      // overflow to inf, no wrapped or truncated integers), so an export that
      // succeeds always loads.
      key = "layers." + name + ".input_scale";
      q.input_scale = positive_float(l.at("input_scale"), file, key);
      key = "layers." + name + ".input_zero_point";
      const json& zp = l.at("input_zero_point");
      if (!zp.is_number_integer() || zp.get<int64_t>() < 0 || zp.get<int64_t>() > 255 ||
          (zp.is_number_unsigned() && zp.get<uint64_t>() > 255))
        throw Error(file.string() + ": key '" + key + "' is " + zp.dump() + ", expected an integer in 0..255");
      q.input_zero_point = zp.get<int32_t>();
      key = "layers." + name + ".weight_scales";
      const json& scales = l.at("weight_scales");
      if (!scales.is_array()) throw Error(file.string() + ": key '" + key + "' is not an array");
      for (size_t i = 0; i < scales.size(); ++i)
        q.weight_scales.push_back(positive_float(scales[i], file, key + "[" + std::to_string(i) + "]"));
      out[strip_bert_prefix(name)] = std::move(q);
    }
  } catch (const json::exception& e) {
    throw Error(file.string() + ": key '" + key + "' missing or of the wrong type (" + e.what() + ")");
  }
  return out;
}

}  // namespace

fbm::ModelConfig read_checkpoint_config(const fs::path& dir) { return read_config(dir / "config.json"); }

std::string checkpoint_linear_name(int64_t layer, const std::string& name) {
  const std::string p = "encoder.layer." + std::to_string(layer) + ".";
  if (name == "query" || name == "key" || name == "value") return p + "attention.self." + name;
  if (name == "attention_output") return p + "attention.output.dense";
  if (name == "intermediate") return p + "intermediate.dense";
  if (name == "output") return p + "output.dense";
  throw Error("unknown linear '" + name + "'");
}

const std::vector<float>& Checkpoint::tensor(const std::string& name, const std::vector<int64_t>& shape) const {
  const fs::path file = dir / "model.safetensors";
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error(file.string() + ": tensor '" + name + "' is missing");
  const auto& actual = tensor_shapes.at(name);
  if (actual != shape)
    throw Error(file.string() + ": tensor '" + name + "' has shape " + shape_string(actual) + ", expected " +
                shape_string(shape));
  return it->second;
}

Checkpoint read_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": not a checkpoint directory");
  Checkpoint c;
  c.dir = dir;
  c.config = read_config(dir / "config.json");
  c.tokenizer = read_tokenizer(dir, c.config);
  const fs::path weights = dir / "model.safetensors";
  if (!fs::is_regular_file(weights, ec)) throw Error(weights.string() + ": missing");
  c.weights_bytes = static_cast<int64_t>(fs::file_size(weights));
  const SafetensorsFile st = read_safetensors(weights);
  for (const SafetensorsTensor& t : st.tensors) {
    const std::string name = strip_bert_prefix(t.name);
    if (t.dtype != SafetensorsDType::F32) {
      // Buffers such as position_ids are int64; only float weights matter.
      if (t.dtype == SafetensorsDType::I64 || t.dtype == SafetensorsDType::I32) continue;
      throw Error(weights.string() + ": tensor '" + t.name + "' is " + std::string(dtype_name(t.dtype)) +
                  "; export reads F32 checkpoints");
    }
    std::vector<float> v(static_cast<size_t>(t.numel()));
    std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
    // The runtime refuses non-finite weights at load; refuse them here first.
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw Error(weights.string() + ": tensor '" + t.name + "' holds " + (std::isnan(v[i]) ? "NaN" : "an infinite value") +
                    " at index " + std::to_string(i) + "; export needs finite weights");
    c.tensors[name] = std::move(v);
    c.tensor_shapes[name] = t.shape;
  }
  const fs::path quant = dir / "quantization.json";
  // Present but unreadable (a directory, a FIFO, a dangling link) is an
  // error, not "no quantization": the export must not silently become fp32.
  if (fs::exists(fs::symlink_status(quant, ec))) {
    require_regular_file(quant, "quantization file (quantization.json)");
    c.quantization = read_quantization(quant);
    c.has_quantization = true;
  }
  return c;
}

}  // namespace fastbert
