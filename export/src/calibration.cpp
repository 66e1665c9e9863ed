#include "calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fastbert/common/error.h"
#include "fastbert/formats/squad_features.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_dataset.h"
#include "fastbert/runtime/squad/squad_windows.h"

namespace fastbert {
namespace fs = std::filesystem;

std::map<std::string, LinearQuantization> calibrate_int8(const Checkpoint& ck, const fs::path& fp32_model,
                                                          const fs::path& data, int64_t max_windows) {
  if (max_windows <= 0) throw Error("--calibration-windows must be positive");
  std::map<std::string, std::pair<float, float>> ranges;
  EngineOptions options;
  options.linear_input_observer = [&](int64_t layer, const char* linear, const float* x, int64_t features,
                                      int64_t tokens, int64_t ld) {
    float lo = std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::lowest();
#pragma omp parallel for reduction(min : lo) reduction(max : hi)
    for (int64_t f = 0; f < features; ++f)
      for (int64_t t = 0; t < tokens; ++t) {
        lo = std::min(lo, x[f * ld + t]);
        hi = std::max(hi, x[f * ld + t]);
      }
    auto [it, fresh] = ranges.try_emplace(checkpoint_linear_name(layer, linear), lo, hi);
    if (!fresh) it->second = {std::min(it->second.first, lo), std::max(it->second.second, hi)};
  };
  Engine engine(fp32_model, options);

  SquadFeatures features;
  if (data.extension() == ".h5") {
    const fbm::ModelConfig& c = engine.config();
    features = read_squad_features(data, ModelLimits{c.vocab_size, c.type_vocab_size, c.max_position});
  } else {
    SquadWindowOptions windows;
    windows.max_seq = std::min<int64_t>(windows.max_seq, engine.config().max_position);
    windows.doc_stride = std::min<int64_t>(windows.doc_stride, windows.max_seq / 2);
    windows.max_query = std::min<int64_t>(windows.max_query, windows.max_seq / 4);
    features = make_squad_features(read_squad(data), engine.tokenizer(), windows);
  }
  const int64_t n = std::min(max_windows, features.num_windows()), s = features.max_seq;
  if (n == 0) throw Error(data.string() + ": no windows to calibrate with");
  std::vector<float> start(static_cast<size_t>(8 * s)), end(start.size());
  for (int64_t r = 0; r < n; r += 8) {
    const int64_t nb = std::min<int64_t>(8, n - r);
    engine.forward(features.input_ids.data() + r * s, features.token_type_ids.data() + r * s,
                   features.attention_mask.data() + r * s, nb, s, start.data(), end.data());
  }

  std::map<std::string, LinearQuantization> out;
  for (const auto& [name, range] : ranges) {
    LinearQuantization q;
    const float lo = std::min(0.0f, range.first), hi = std::max(0.0f, range.second);
    q.input_scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    q.input_zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / q.input_scale), 0.0f, 255.0f));
    const auto& shape = ck.tensor_shapes.at(name + ".weight");
    const std::vector<float>& w = ck.tensors.at(name + ".weight");
    for (int64_t r = 0; r < shape[0]; ++r) {
      float mx = 0;
      for (int64_t c = 0; c < shape[1]; ++c) mx = std::max(mx, std::fabs(w[r * shape[1] + c]));
      q.weight_scales.push_back(mx > 0 ? mx / 127.0f : 1.0f);
    }
    out[name] = std::move(q);
  }
  return out;
}

}  // namespace fastbert
