#pragma once
// A tiny random BERT QA checkpoint written without LibTorch (config.json,
// model.safetensors, vocab.txt and optionally quantization.json), and an
// independent plain forward pass (row-major, double accumulation) that the
// engine's logits are compared with.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fastbert::testing {

struct TinyBertSpec {
  int64_t vocab = 40, hidden = 64, layers = 2, heads = 4, intermediate = 128, max_position = 64, type_vocab = 2;
  double layer_norm_eps = 1e-12;
  double block_sparsity = 0.0;  // fraction of 4x1 blocks zeroed in every encoder linear
  uint64_t seed = 1;
};

// The default tiny BERT with `block_sparsity` of its 4x1 blocks zeroed.
inline TinyBertSpec block_sparse_spec(double block_sparsity) {
  TinyBertSpec spec;
  spec.block_sparsity = block_sparsity;
  return spec;
}

struct Window {
  std::vector<int32_t> ids, types;
  int64_t length = 0;  // valid tokens; the rest is padding
};

struct QuantEntry {
  std::vector<float> weight_scales;
  float input_scale = 1;
  int32_t input_zero_point = 0;
};

class TinyBert {
 public:
  explicit TinyBert(const TinyBertSpec& spec);
  const TinyBertSpec& spec() const { return spec_; }

  // Writes the checkpoint into `dir` (created).
  void write_checkpoint(const std::filesystem::path& dir) const;
  // Calibrates activation ranges (min-max over `windows`, with the fp32
  // reference) and per-row weight scales, as the compression stage does,
  // and writes quantization.json into `dir`.
  void write_quantization(const std::filesystem::path& dir, const std::vector<Window>& windows);
  // write_checkpoint, then write_quantization calibrated on `count` random
  // windows of `seq` positions; returns those windows.
  std::vector<Window> write_calibrated_checkpoint(const std::filesystem::path& dir, int64_t count, int64_t seq,
                                                  uint64_t seed);

  // Start/end logits of the valid positions of `w`. With `int8`, every
  // encoder linear fake-quantizes its input (u8, the calibrated scale and
  // zero point) and its weights (s8 per row): the engine's int8 arithmetic in
  // plain float/double.
  void forward(const Window& w, bool int8, std::vector<double>* start, std::vector<double>* end) const;

  std::vector<Window> random_windows(int64_t count, int64_t seq, uint64_t seed) const;

 private:
  using Matrix = std::vector<float>;
  void linear(const std::string& name, const std::vector<double>& x, int64_t tokens, int64_t k, int64_t n,
              bool int8, std::vector<double>* y, std::map<std::string, std::pair<double, double>>* ranges) const;
  void forward_impl(const Window& w, bool int8, std::vector<double>* start, std::vector<double>* end,
                    std::map<std::string, std::pair<double, double>>* ranges) const;

  TinyBertSpec spec_;
  std::map<std::string, Matrix> tensors_;
  std::map<std::string, std::vector<int64_t>> shapes_;
  std::map<std::string, QuantEntry> quant_;
};

}  // namespace fastbert::testing
