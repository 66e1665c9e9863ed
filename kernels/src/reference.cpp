#include "fastbert/kernels/reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fastbert::kernels {
namespace {

// Element by element, written independently of the vectorised epilogue.
void reference_epilogue(const Epilogue& e, int32_t acc, float scale, float bias, const float* residual, void* out,
                        int64_t i) {
  if (e.output == OutputType::s32) {
    static_cast<int32_t*>(out)[i] = acc;
    return;
  }
  float y = std::fma(float(acc), scale, bias);
  if (e.gelu) y = gelu_scalar(y);
  if (residual) y += residual[i];
  if (e.output == OutputType::f32) {
    static_cast<float*>(out)[i] = y;
    return;
  }
  const bool u8 = e.output == OutputType::u8;
  const float lo = u8 ? 0.0f : -128.0f, hi = u8 ? 255.0f : 127.0f;
  const float q = std::min(std::max(std::nearbyint(y * (1.0f / e.out_scale)) + float(e.out_zero_point), lo), hi);
  if (u8)
    static_cast<uint8_t*>(out)[i] = uint8_t(q);
  else
    static_cast<int8_t*>(out)[i] = int8_t(q);
}

}  // namespace

void reference_spmm(const int8_t* weights, const float* w_scales, int64_t rows, int64_t cols, ActivationType activation,
                    const Epilogue& epilogue, const SpmmArgs& args) {
  const int64_t m = args.m;
  std::vector<int32_t> acc(static_cast<size_t>(m));
  const int out_size = output_size(epilogue.output);
  for (int64_t n = 0; n < rows; ++n) {
    int32_t row_sum = 0;
    for (int64_t k = 0; k < cols; ++k) row_sum += weights[n * cols + k];
    for (int64_t i = 0; i < m; ++i) {
      int32_t sum = 0;
      for (int64_t k = 0; k < cols; ++k) {
        const int32_t x = activation == ActivationType::u8
                              ? int32_t(static_cast<const uint8_t*>(args.x)[k * args.ldx + i])
                              : int32_t(static_cast<const int8_t*>(args.x)[k * args.ldx + i]);
        sum += int32_t(weights[n * cols + k]) * x;
      }
      acc[i] = sum;
    }
    const int32_t compensation = activation == ActivationType::u8 ? -args.x_zero_point * row_sum : 0;
    for (int64_t i = 0; i < m; ++i)
      reference_epilogue(epilogue, acc[i] + compensation, args.x_scale * w_scales[n], args.bias ? args.bias[n] : 0.0f,
                         args.residual ? args.residual + n * args.ldr : nullptr,
                         static_cast<char*>(args.y) + n * args.ldy * out_size, i);
  }
}

void reference_gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool trans_a, const float* b,
                        int64_t ldb, bool trans_b, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += double(av) * double(bv);
      }
      c[i * ldc + j] = float(sum);
    }
}

}  // namespace fastbert::kernels
