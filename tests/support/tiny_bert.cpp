#include "tiny_bert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "fastbert/common/atomic_file.h"
#include "fastbert/formats/safetensors.h"

namespace fastbert::testing {
namespace fs = std::filesystem;

namespace {
std::string layer_name(int64_t l, const char* rest) { return "bert.encoder.layer." + std::to_string(l) + "." + rest; }
}  // namespace

TinyBert::TinyBert(const TinyBertSpec& spec) : spec_(spec) {
  std::mt19937_64 rng(spec.seed);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, double mean, double stddev) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<double> dist(mean, stddev);
    Matrix m(static_cast<size_t>(n));
    for (auto& v : m) v = static_cast<float>(dist(rng));
    tensors_[name] = std::move(m);
    shapes_[name] = std::move(shape);
  };
  const int64_t h = spec.hidden, i = spec.intermediate;
  add("bert.embeddings.word_embeddings.weight", {spec.vocab, h}, 0, 0.5);
  add("bert.embeddings.position_embeddings.weight", {spec.max_position, h}, 0, 0.2);
  add("bert.embeddings.token_type_embeddings.weight", {spec.type_vocab, h}, 0, 0.2);
  add("bert.embeddings.LayerNorm.weight", {h}, 1, 0.1);
  add("bert.embeddings.LayerNorm.bias", {h}, 0, 0.1);
  for (int64_t l = 0; l < spec.layers; ++l) {
    const std::pair<const char*, std::pair<int64_t, int64_t>> linears[] = {
        {"attention.self.query", {h, h}},   {"attention.self.key", {h, h}}, {"attention.self.value", {h, h}},
        {"attention.output.dense", {h, h}}, {"intermediate.dense", {i, h}}, {"output.dense", {h, i}}};
    for (const auto& [name, nk] : linears) {
      const std::string w = layer_name(l, name) + std::string(".weight");
      add(w, {nk.first, nk.second}, 0, 1.0 / std::sqrt(static_cast<double>(nk.second)));
      add(layer_name(l, name) + std::string(".bias"), {nk.first}, 0, 0.1);
      if (spec.block_sparsity > 0) {
        std::uniform_real_distribution<double> u(0, 1);
        Matrix& m = tensors_[w];
        for (int64_t g = 0; g < nk.first; g += 4)
          for (int64_t c = 0; c < nk.second; ++c)
            if (u(rng) < spec.block_sparsity)
              for (int64_t r = g; r < std::min(nk.first, g + 4); ++r) m[r * nk.second + c] = 0.0f;
      }
    }
    add(layer_name(l, "attention.output.LayerNorm.weight"), {h}, 1, 0.1);
    add(layer_name(l, "attention.output.LayerNorm.bias"), {h}, 0, 0.1);
    add(layer_name(l, "output.LayerNorm.weight"), {h}, 1, 0.1);
    add(layer_name(l, "output.LayerNorm.bias"), {h}, 0, 0.1);
  }
  add("qa_outputs.weight", {2, h}, 0, 0.3);
  add("qa_outputs.bias", {2}, 0, 0.1);
}

void TinyBert::write_checkpoint(const fs::path& dir) const {
  fs::create_directories(dir);
  nlohmann::json config = {{"model_type", "bert"},
                           {"vocab_size", spec_.vocab},
                           {"hidden_size", spec_.hidden},
                           {"num_hidden_layers", spec_.layers},
                           {"num_attention_heads", spec_.heads},
                           {"intermediate_size", spec_.intermediate},
                           {"hidden_act", "gelu"},
                           {"hidden_dropout_prob", 0.1},
                           {"attention_probs_dropout_prob", 0.1},
                           {"max_position_embeddings", spec_.max_position},
                           {"type_vocab_size", spec_.type_vocab},
                           {"initializer_range", 0.02},
                           {"layer_norm_eps", spec_.layer_norm_eps},
                           {"pad_token_id", 0}};
  write_file_atomic(dir / "config.json", config.dump(2));
  SafetensorsFile st;
  for (const auto& [name, m] : tensors_) {
    SafetensorsTensor t;
    t.name = name;
    t.dtype = SafetensorsDType::F32;
    t.shape = shapes_.at(name);
    t.data.assign(reinterpret_cast<const char*>(m.data()), m.size() * sizeof(float));
    st.add(std::move(t));
  }
  write_safetensors(dir / "model.safetensors", st);
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  const char* words[] = {"the", "broncos", "won", "in", "santa", "clara", "denver", "game", "bowl", "super",
                         "who", "where", "what", "?", ".", ",", "a", "long", "story", "about", "many", "things",
                         "50", "team", "city", "##s", "of", "and", "is", "was", "it", "on", "at", "by", "for"};
  for (const char* w : words) vocab += std::string(w) + "\n";
  write_file_atomic(dir / "vocab.txt", vocab);
}

std::vector<Window> TinyBert::random_windows(int64_t count, int64_t seq, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::vector<Window> out;
  for (int64_t r = 0; r < count; ++r) {
    Window w;
    w.length = r == 0 ? seq : std::uniform_int_distribution<int64_t>(2, seq)(rng);
    w.ids.assign(static_cast<size_t>(seq), 0);
    w.types.assign(static_cast<size_t>(seq), 0);
    const int64_t split = w.length / 3;
    for (int64_t s = 0; s < w.length; ++s) {
      w.ids[s] = static_cast<int32_t>(std::uniform_int_distribution<int64_t>(1, spec_.vocab - 1)(rng));
      w.types[s] = s > split ? 1 : 0;
    }
    out.push_back(std::move(w));
  }
  return out;
}

void TinyBert::linear(const std::string& name, const std::vector<double>& x, int64_t tokens, int64_t k, int64_t n,
                      bool int8, std::vector<double>* y,
                      std::map<std::string, std::pair<double, double>>* ranges) const {
  const Matrix& w = tensors_.at(name + ".weight");
  const Matrix& b = tensors_.at(name + ".bias");
  if (ranges) {
    auto& r = (*ranges)[name];
    for (double v : x) {
      r.first = std::min(r.first, v);
      r.second = std::max(r.second, v);
    }
  }
  std::vector<double> xin = x;
  std::vector<double> wd(w.begin(), w.end());
  if (int8) {
    const QuantEntry& q = quant_.at(name);
    for (double& v : xin) {
      // Quantized from the fp32 value the engine holds.
      const float f = static_cast<float>(v);
      const float qv = std::clamp(std::nearbyint(f / q.input_scale) + static_cast<float>(q.input_zero_point), 0.0f, 255.0f);
      v = (static_cast<double>(qv) - q.input_zero_point) * q.input_scale;
    }
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        const float qw = std::clamp(std::nearbyint(w[r * k + c] / q.weight_scales[r]), -127.0f, 127.0f);
        wd[r * k + c] = static_cast<double>(qw) * q.weight_scales[r];
      }
  }
  y->assign(static_cast<size_t>(tokens * n), 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < n; ++r) {
      double acc = b[r];
      for (int64_t c = 0; c < k; ++c) acc += wd[r * k + c] * xin[t * k + c];
      (*y)[t * n + r] = acc;
    }
}

namespace {
void layer_norm(std::vector<double>& x, int64_t tokens, int64_t h, const std::vector<float>& g,
                const std::vector<float>& b, double eps) {
  for (int64_t t = 0; t < tokens; ++t) {
    double mean = 0, var = 0;
    for (int64_t f = 0; f < h; ++f) mean += x[t * h + f];
    mean /= h;
    for (int64_t f = 0; f < h; ++f) var += (x[t * h + f] - mean) * (x[t * h + f] - mean);
    var /= h;
    for (int64_t f = 0; f < h; ++f) x[t * h + f] = (x[t * h + f] - mean) / std::sqrt(var + eps) * g[f] + b[f];
  }
}
}  // namespace

void TinyBert::forward_impl(const Window& w, bool int8, std::vector<double>* start, std::vector<double>* end,
                            std::map<std::string, std::pair<double, double>>* ranges) const {
  const int64_t h = spec_.hidden, inter = spec_.intermediate, T = w.length, heads = spec_.heads, d = h / heads;
  const auto& T_ = tensors_;
  std::vector<double> x(static_cast<size_t>(T * h));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t f = 0; f < h; ++f)
      x[t * h + f] = static_cast<double>(T_.at("bert.embeddings.word_embeddings.weight")[w.ids[t] * h + f]) +
                     T_.at("bert.embeddings.position_embeddings.weight")[t * h + f] +
                     T_.at("bert.embeddings.token_type_embeddings.weight")[w.types[t] * h + f];
  layer_norm(x, T, h, T_.at("bert.embeddings.LayerNorm.weight"), T_.at("bert.embeddings.LayerNorm.bias"),
             spec_.layer_norm_eps);
  for (int64_t l = 0; l < spec_.layers; ++l) {
    std::vector<double> q, k, v, ctx(static_cast<size_t>(T * h)), a, i1, o;
    linear(layer_name(l, "attention.self.query"), x, T, h, h, int8, &q, ranges);
    linear(layer_name(l, "attention.self.key"), x, T, h, h, int8, &k, ranges);
    linear(layer_name(l, "attention.self.value"), x, T, h, h, int8, &v, ranges);
    for (int64_t hd = 0; hd < heads; ++hd)
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> p(static_cast<size_t>(T));
        double mx = -1e300;
        for (int64_t s = 0; s < T; ++s) {
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += q[t * h + hd * d + e] * k[s * h + hd * d + e];
          p[s] = dot / std::sqrt(static_cast<double>(d));
          mx = std::max(mx, p[s]);
        }
        double sum = 0;
        for (double& e : p) sum += (e = std::exp(e - mx));
        for (int64_t e = 0; e < d; ++e) {
          double acc = 0;
          for (int64_t s = 0; s < T; ++s) acc += p[s] / sum * v[s * h + hd * d + e];
          ctx[t * h + hd * d + e] = acc;
        }
      }
    linear(layer_name(l, "attention.output.dense"), ctx, T, h, h, int8, &a, ranges);
    for (size_t j = 0; j < a.size(); ++j) a[j] += x[j];
    layer_norm(a, T, h, T_.at(layer_name(l, "attention.output.LayerNorm.weight")),
               T_.at(layer_name(l, "attention.output.LayerNorm.bias")), spec_.layer_norm_eps);
    x = a;
    linear(layer_name(l, "intermediate.dense"), x, T, h, inter, int8, &i1, ranges);
    for (double& e : i1) e = 0.5 * e * (1.0 + std::erf(e / std::sqrt(2.0)));
    linear(layer_name(l, "output.dense"), i1, T, inter, h, int8, &o, ranges);
    for (size_t j = 0; j < o.size(); ++j) o[j] += x[j];
    layer_norm(o, T, h, T_.at(layer_name(l, "output.LayerNorm.weight")), T_.at(layer_name(l, "output.LayerNorm.bias")),
               spec_.layer_norm_eps);
    x = o;
  }
  start->assign(static_cast<size_t>(T), 0);
  end->assign(static_cast<size_t>(T), 0);
  const Matrix& qw = T_.at("qa_outputs.weight");
  const Matrix& qb = T_.at("qa_outputs.bias");
  for (int64_t t = 0; t < T; ++t) {
    double s0 = qb[0], s1 = qb[1];
    for (int64_t f = 0; f < h; ++f) {
      s0 += qw[f] * x[t * h + f];
      s1 += qw[h + f] * x[t * h + f];
    }
    (*start)[t] = s0;
    (*end)[t] = s1;
  }
}

void TinyBert::forward(const Window& w, bool int8, std::vector<double>* start, std::vector<double>* end) const {
  forward_impl(w, int8, start, end, nullptr);
}

std::vector<Window> TinyBert::write_calibrated_checkpoint(const fs::path& dir, int64_t count, int64_t seq,
                                                          uint64_t seed) {
  write_checkpoint(dir);
  std::vector<Window> windows = random_windows(count, seq, seed);
  write_quantization(dir, windows);
  return windows;
}

void TinyBert::write_quantization(const fs::path& dir, const std::vector<Window>& windows) {
  std::map<std::string, std::pair<double, double>> ranges;
  std::vector<double> s, e;
  for (const Window& w : windows) forward_impl(w, false, &s, &e, &ranges);
  nlohmann::json layers = nlohmann::json::object();
  for (const auto& [name, r] : ranges) {
    const double lo = std::min(0.0, r.first), hi = std::max(0.0, r.second);
    QuantEntry q;
    q.input_scale = hi > lo ? static_cast<float>((hi - lo) / 255.0) : 1.0f;
    q.input_zero_point =
        static_cast<int32_t>(std::clamp(std::nearbyint(static_cast<float>(-lo) / q.input_scale), 0.0f, 255.0f));
    const Matrix& w = tensors_.at(name + ".weight");
    const auto& shape = shapes_.at(name + ".weight");
    for (int64_t row = 0; row < shape[0]; ++row) {
      float mx = 0;
      for (int64_t c = 0; c < shape[1]; ++c) mx = std::max(mx, std::fabs(w[row * shape[1] + c]));
      q.weight_scales.push_back(mx > 0 ? mx / 127.0f : 1.0f);
    }
    layers[name] = {{"weight_scales", q.weight_scales}, {"input_scale", q.input_scale},
                    {"input_zero_point", q.input_zero_point}, {"input_min", lo}, {"input_max", hi}};
    quant_[name] = q;
  }
  nlohmann::json j = {{"format", "fastbert-quantization"},
                      {"version", 1},
                      {"mode", "ptq"},
                      {"calibration", {{"method", "minmax"}, {"percentile", 99.99}, {"batches", 1}}},
                      {"layers", layers}};
  write_file_atomic(dir / "quantization.json", j.dump(1));
}

}  // namespace fastbert::testing
