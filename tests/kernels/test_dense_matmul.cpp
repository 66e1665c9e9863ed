#include <gtest/gtest.h>

#include <random>

#include "fastbert/common/error.h"
#include "fastbert/kernels/dense_int8.h"
#include "fastbert/kernels/dense_matmul.h"
#include "fastbert/kernels/reference.h"

namespace fastbert::kernels {
namespace {

std::vector<float> normal(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol * (1.0f + std::fabs(want[i]))) << i;
}

TEST(DenseLinear, Fp32MatchesReferenceInBothLayouts) {
  const int64_t m = 37, k = 70, n = 45;
  const auto w = normal(size_t(n * k), 1), x = normal(size_t(m * k), 2), bias = normal(size_t(n), 3);
  // want (m x n) = x (m x k) * w^T + bias
  std::vector<float> want(size_t(m * n));
  reference_gemm_f32(m, n, k, x.data(), k, false, w.data(), k, true, want.data(), n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) want[i * n + j] += bias[j];
  for (bool feature_major : {false, true}) {
    DenseLinearDesc d{m, k, n, DenseType::f32, feature_major, feature_major};
    const DenseLinear lin(d, w.data(), nullptr, bias.data());
    std::vector<float> xin = x;
    if (feature_major)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < k; ++p) xin[p * m + i] = x[i * k + p];
    std::vector<float> y(size_t(m * n));
    lin.execute(xin.data(), y.data());
    std::vector<float> yt = y;
    if (feature_major)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) yt[i * n + j] = y[j * m + i];
    expect_close(yt, want, 1e-4f);
    EXPECT_FALSE(lin.implementation().empty());
  }
}

TEST(LinearF32FeatureMajor, MatchesReferenceWithRowStridesAndLeavesPaddingAlone) {
  const int64_t n = 45, k = 70, m = 37, ldx = 48, ldy = 40;
  const auto w = normal(size_t(n * k), 4), bias = normal(size_t(n), 5);
  const auto x = normal(size_t(k * ldx), 6);
  // want (n x m) = w (n x k) * x (k x m, stride ldx) + bias per row
  std::vector<float> want(size_t(n * m));
  reference_gemm_f32(n, m, k, w.data(), k, false, x.data(), ldx, false, want.data(), m);
  std::vector<float> y(size_t(n * ldy), -7.0f);
  linear_f32_feature_major(w.data(), bias.data(), x.data(), ldx, y.data(), ldy, n, k, m);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t t = 0; t < m; ++t)
      ASSERT_NEAR(y[r * ldy + t], want[r * m + t] + bias[r], 1e-4f * (1 + std::fabs(want[r * m + t]))) << r << "," << t;
    for (int64_t t = m; t < ldy; ++t) ASSERT_EQ(y[r * ldy + t], -7.0f) << "wrote past the tokens of row " << r;
  }
  EXPECT_THROW(linear_f32_feature_major(w.data(), bias.data(), x.data(), 30, y.data(), ldy, n, k, m), Error);
}

TEST(DenseLinear, Int8WithZeroPointScalesAndBiasMatchesIntegerReference) {
  // Below VNNI oneDNN runs gemm:jit, whose vpmaddubsw sums saturate at 16 bits
  // (seen on an AVX2-only EPYC: 7.79 for 9.25); DenseLinear is only the
  // benchmark's oneDNN comparator.
  if (!onednn_int8_exact_at_isa_cap())
    GTEST_SKIP() << "oneDNN's int8 matmul has no VNNI at cap " << isa_name(isa_cap()) << ": its sums saturate";
  const int64_t m = 19, k = 64, n = 33;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> wd(-127, 127), xd(0, 255);
  std::vector<int8_t> w(size_t(n * k));
  std::vector<uint8_t> x(size_t(m * k));
  for (auto& v : w) v = int8_t(wd(rng));
  for (auto& v : x) v = uint8_t(xd(rng));
  const auto bias = normal(size_t(n), 7);
  std::vector<float> w_scales(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) w_scales[j] = 0.01f + 0.001f * float(j);
  const float x_scale = 0.02f;
  const int32_t zp = 120;
  std::vector<float> want(size_t(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += int32_t(w[j * k + p]) * (int32_t(x[i * k + p]) - zp);
      want[i * n + j] = float(acc) * x_scale * w_scales[j] + bias[j];
    }
  for (bool feature_major : {false, true}) {
    DenseLinearDesc d{m, k, n, DenseType::u8, feature_major, feature_major, x_scale, zp};
    std::vector<uint8_t> xin = x;
    if (feature_major)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < k; ++p) xin[p * m + i] = x[i * k + p];
    const DenseLinear lin(d, w.data(), w_scales.data(), bias.data());
    std::vector<float> y(size_t(m * n));
    lin.execute(xin.data(), y.data());
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        // The zero point is folded into the fp32 bias: tolerance relative to its size.
        const float got = feature_major ? y[j * m + i] : y[i * n + j];
        ASSERT_NEAR(got, want[i * n + j], 2e-5f * (std::fabs(want[i * n + j]) + 255.0f * 127.0f * k * x_scale *
                                                                                  w_scales[j] / 64.0f))
            << i << "," << j << " " << lin.implementation();
      }
  }
}

TEST(DenseLinear, RejectsBadShapesAndMissingScales) {
  std::vector<int8_t> w(16);
  EXPECT_THROW(DenseLinear({0, 4, 4, DenseType::f32}, w.data()), Error);
  EXPECT_THROW(DenseLinear({4, 4, 4, DenseType::s8}, w.data(), nullptr), Error);
  const float scales[4] = {1, 1, 1, 1};
  EXPECT_THROW(DenseLinear({4, 4, 4, DenseType::s8, false, false, 1.0f, 3}, w.data(), scales), Error);
}

TEST(DenseLinear, PrimitivesAreCachedPerShape) {
  clear_dense_primitive_cache();
  const auto w = normal(64, 1);
  const DenseLinear a({4, 8, 8, DenseType::f32}, w.data());
  const DenseLinear b({4, 8, 8, DenseType::f32}, w.data());
  EXPECT_EQ(dense_primitive_cache_size(), 1u);
  const DenseLinear c({5, 8, 8, DenseType::f32}, w.data());
  EXPECT_EQ(dense_primitive_cache_size(), 2u);
}

TEST(BatchedMatmul, AttentionShapedProductsMatchReference) {
  // Q x K^T with K stored token-major (trans_b), then P x V.
  const int64_t batch = 3, tokens = 21, head = 16;
  const auto q = normal(size_t(batch * tokens * head), 1), kk = normal(size_t(batch * tokens * head), 2);
  BatchedMatmulDesc d;
  d.batch = batch, d.m = tokens, d.n = tokens, d.k = head;
  d.lda = head, d.ldb = head, d.ldc = tokens;
  d.stride_a = tokens * head, d.stride_b = tokens * head, d.stride_c = tokens * tokens;
  d.trans_b = true;
  d.alpha = 0.25f;
  std::vector<float> got(size_t(batch * tokens * tokens)), want(got.size());
  batched_matmul_f32(d, q.data(), kk.data(), got.data());
  for (int64_t b = 0; b < batch; ++b) {
    reference_gemm_f32(tokens, tokens, head, q.data() + b * tokens * head, head, false, kk.data() + b * tokens * head,
                       head, true, want.data() + b * tokens * tokens, tokens);
  }
  for (auto& v : want) v *= 0.25f;
  expect_close(got, want, 1e-4f);
  EXPECT_THROW(batched_matmul_f32(BatchedMatmulDesc{}, q.data(), kk.data(), got.data()), Error);
}

}  // namespace
}  // namespace fastbert::kernels
