#pragma once
// What the ops of one forward pass share: the activation buffers of its
// (batch, sequence bucket) shape, and the engine's view of every op (its
// time when profiling, the fp32 input of every fp32 linear for calibration).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "fastbert/kernels/attention_path.h"
#include "fastbert/runtime/engine.h"
#include "layers/linear.h"

namespace fastbert::layers {

// Feature-major buffers ([features][tokens], rows `ld` floats or bytes
// apart) of `batch` rows of `seq` tokens, m = batch * seq tokens in all.
struct Activations {
  int64_t batch = 0, seq = 0, m = 0, ld = 0;
  float* x = nullptr;      // [hidden]: a layer's input and output
  float* q = nullptr;      // [hidden] each: the attention's inputs
  float* k = nullptr;
  float* v = nullptr;
  float* ctx = nullptr;    // [hidden]: the attention's fp32 output
  float* tmp = nullptr;    // [hidden]: a projection's output before LayerNorm
  float* inter = nullptr;  // [intermediate]: the FFN's hidden activations
  uint8_t* u8_a = nullptr;  // [max(hidden, intermediate)]: u8 input of the next int8 linear
  uint8_t* u8_b = nullptr;  // [intermediate]: u8 input of the FFN output linear
  const int32_t* valid_lengths = nullptr;  // [batch]
  AttentionPath attention_path = AttentionPath::automatic;
  unsigned char* attention_workspace = nullptr;
  size_t attention_workspace_bytes = 0;
};

// Which quantization u8_a holds now (none: stale), so that an int8 input
// shared by several linears of one range is quantized once.
using HeldQuant = std::optional<QuantParams>;

class OpContext {
 public:
  // `profile` receives the times when options.profile is set.
  OpContext(const EngineOptions& options, EngineProfile* profile) : options_(options), profile_(profile) {}

  // Runs f, adding its seconds to `kind` when profiling; returns them (0
  // when not profiling).
  template <class F>
  double timed(const char* kind, F&& f) {
    if (!options_.profile) {
      f();
      return 0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    profile_->seconds[kind] += seconds;
    return seconds;
  }

  // Linear `name` (fbm::kLayerLinears) of `layer`, timed by its kind and name.
  void run_linear(const Linear& l, const LinearIo& io, int64_t layer, const char* name);

  // Makes `u8` hold `x` quantized for `l` when `l` is int8 and `u8` holds
  // something else (tracked in *held).
  void ensure_u8(const Linear& l, const float* x, int64_t count, uint8_t* u8, HeldQuant* held);

  // LayerNorm of x (+ residual) into a.x, and into a.u8_a quantized for
  // `next` when that is int8; timed as `kind`.
  void layer_norm_into(const Activations& a, int64_t features, float epsilon, const char* kind, const float* x,
                       const float* residual, const float* gamma, const float* beta, const Linear* next,
                       HeldQuant* held);

 private:
  const EngineOptions& options_;
  EngineProfile* profile_;
};

}  // namespace fastbert::layers
