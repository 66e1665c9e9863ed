#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace fastbert::kernels {

// Dense products through oneDNN's matmul primitive, for layers that are not
// sparse enough to pay off and for attention. Primitives are cached per shape
// and types (oneDNN's own cache is keyed the same way, but holding them here
// makes the reuse explicit and independent of DNNL_PRIMITIVE_CACHE_CAPACITY).

enum class DenseType { f32, u8, s8 };

// y (m x n) = x (m x k) * W^T + bias, W given as n x k (row-major, like a
// PyTorch Linear). The weights are reordered once, into the layout the chosen
// oneDNN implementation wants, and kept. int8: x u8/s8 with a static scale and
// (u8) zero point, W s8 with per-output scales; y is fp32 =
// (acc - x_zero_point * rowsum(W[n])) * x_scale * w_scale[n] + bias[n].
// The scales are constants of the primitive and the zero point is folded into
// the bias: oneDNN 2.6 falls back from brgemm (AMX/VNNI) to its slower
// gemm:jit as soon as scales are given at run time.
// x and y may be stored transposed (feature-major, k x m and n x m).
struct DenseLinearDesc {
  int64_t m = 0, k = 0, n = 0;
  DenseType x_type = DenseType::f32;  // f32, u8 or s8; W is f32 or s8 accordingly
  bool x_feature_major = false;       // x stored as k x m
  bool y_feature_major = false;       // y stored as n x m
  float x_scale = 1.0f;               // int8 x only
  int32_t x_zero_point = 0;           // u8 x only
};

// Whether DenseLinear's int8 products are exact at the FASTBERT_ISA cap:
// oneDNN's int8 matmul below VNNI multiplies with vpmaddubsw, whose 16-bit
// pair sums saturate on full-range u8 x s8 (5379 where the integer product
// is 2931, seen at avx2 on Zen 4): exact from avx_vnni (oneDNN's avx2_vnni)
// and from avx512_vnni, not at avx512bw (oneDNN's avx512_core, which
// excludes AVX-VNNI even where the CPU has it).
bool onednn_int8_exact_at_isa_cap();

class DenseLinear {
 public:
  // weights: n x k, float for f32, int8_t otherwise; w_scales (int8 only): n values.
  DenseLinear(const DenseLinearDesc& desc, const void* weights, const float* w_scales = nullptr,
              const float* bias = nullptr);
  ~DenseLinear();
  DenseLinear(DenseLinear&&) noexcept;
  DenseLinear& operator=(DenseLinear&&) noexcept;

  void execute(const void* x, float* y) const;
  const DenseLinearDesc& desc() const;
  // The oneDNN implementation picked, e.g. "brg:avx512_core_amx".
  std::string implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Batched fp32 product with both operands given at run time (attention:
// Q x K^T, P x V): c[b] (m x n) = a[b] (m x k) x b[b] (k x n), with leading
// dimensions and batch strides in elements; trans_b means b is stored n x k.
struct BatchedMatmulDesc {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  bool trans_b = false;
  float alpha = 1.0f;
};
void batched_matmul_f32(const BatchedMatmulDesc& desc, const float* a, const float* b, float* c);

// y (n x m) = W (n x k) x (k x m) + bias[n] per row, all row-major, x and y
// with row strides ldx and ldy: an fp32 linear layer on feature-major
// activations. It runs on oneDNN's sgemm, whose JIT kernels take this layout
// (oneDNN 2.6's matmul primitive runs it through a reference loop). Inside
// an active OpenMP region it uses the calling thread alone.
void linear_f32_feature_major(const float* w, const float* bias, const float* x, int64_t ldx, float* y, int64_t ldy,
                              int64_t n, int64_t k, int64_t m);

// Drops every cached oneDNN primitive (tests, memory pressure).
void clear_dense_primitive_cache();
size_t dense_primitive_cache_size();

}  // namespace fastbert::kernels
