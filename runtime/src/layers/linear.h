#pragma once
// One linear layer of the encoder behind one interface, whatever its storage:
// dense fp32 through oneDNN sgemm, dense and 4x1 block-sparse int8 through
// the JIT VNNI SpMM or, below a crossover sparsity, the dense int8 matmul. Activations are feature-major ([features][tokens], row stride m).
#include <cstdint>
#include <memory>
#include <string>

#include "fastbert/kernels/isa.h"
#include "fastbert/runtime/fbm_file.h"

namespace fastbert::layers {

struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  bool operator==(const QuantParams& o) const { return scale == o.scale && zero_point == o.zero_point; }
};

// What a layer may fold into its own epilogue instead of a separate pass.
struct LinearFusion {
  bool residual = false;     // y = W x + b + residual
  bool gelu = false;         // y = gelu(W x + b)
  bool output_u8 = false;    // y written as u8 with `output` (needs gelu here)
  QuantParams output;
};

struct LinearIo {
  int64_t m = 0;                     // tokens
  int64_t ld = 0;                    // row stride of every [rows][m] array, >= m
  const float* x = nullptr;          // [K][m], fp32 layers
  const uint8_t* x_u8 = nullptr;     // [K][m] quantized with input_quant(), int8 layers
  const float* residual = nullptr;   // [N][m], when fusion().residual
  float* y = nullptr;                // [N][m] fp32 output
  uint8_t* y_u8 = nullptr;           // [N][m] when fusion().output_u8
};

class Linear {
 public:
  virtual ~Linear() = default;
  virtual fbm::LinearFormat format() const = 0;
  virtual const char* implementation() const = 0;
  // Which of the requested fusions this layer actually does.
  virtual LinearFusion fusion() const { return {}; }
  virtual void forward(const LinearIo& io) const = 0;

  bool int8() const { return format() != fbm::LinearFormat::dense_fp32; }
  QuantParams input_quant() const { return input_; }
  int64_t out_features() const { return n_; }
  int64_t in_features() const { return k_; }
  int64_t stored_bytes() const { return stored_bytes_; }
  double block_sparsity() const { return block_sparsity_; }

 protected:
  int64_t n_ = 0, k_ = 0;
  QuantParams input_;
  int64_t stored_bytes_ = 0;
  double block_sparsity_ = 0;
};

// Builds linear `name` of encoder layer `layer` from the file, in the format
// the file records for it. `wanted` lists the fusions the engine would like.
// An int8 linear whose block sparsity is below `int8_dense_below_sparsity`
// runs on the dense int8 matmul (kernels::DenseInt8Primitive), any
// other on the 4x1 SpMM: the same bits either way.
std::unique_ptr<Linear> load_linear(const fbm::FbmFile& file, int64_t layer, const std::string& name,
                                    int64_t out_features, int64_t in_features, const LinearFusion& wanted,
                                    double int8_dense_below_sparsity = 0);

// Whether an int8 linear of this block sparsity runs dense (the dispatch rule).
inline bool int8_runs_dense(double block_sparsity, double int8_dense_below_sparsity) {
  return block_sparsity < int8_dense_below_sparsity;
}

// The crossover below which int8 linears run dense when EngineOptions leaves
// it to the CPU: 0.75 where the dense int8 matmul runs on AMX tiles, 0.3 where
// it runs on a VNNI kernel, 0.4 on the AVX2 kernel at cap avx2, else 0.
double default_int8_dense_below_sparsity(kernels::Isa cap);
double default_int8_dense_below_sparsity();  // for this process's ISA cap

}  // namespace fastbert::layers
