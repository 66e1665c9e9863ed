#include "fastbert/kernels/layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/kernels/isa.h"
#include "ops_test_util.h"

namespace fastbert {
namespace {

const LayerNormKernel& reference_kernel() { return layer_norm_kernels().back(); }

// Feature-major [features][tokens] with strides wider than tokens.
struct Problem {
  int64_t features, tokens, ld;
  std::vector<float> x, residual, gamma, beta;
  Problem(int64_t f, int64_t t, unsigned seed, float offset = 0.0f) : features(f), tokens(t), ld(t + 3) {
    x = test::random_floats(size_t(f * ld), seed, -3 + offset, 3 + offset);
    residual = test::random_floats(size_t(f * ld), seed + 1);
    gamma = test::random_floats(size_t(f), seed + 2, 0.5f, 1.5f);
    beta = test::random_floats(size_t(f), seed + 3, -0.5f, 0.5f);
  }
  LayerNormArgs args(bool with_residual) const {
    LayerNormArgs a;
    a.features = features, a.tokens = tokens;
    a.x = x.data(), a.ld_x = ld;
    if (with_residual) a.residual = residual.data(), a.ld_residual = ld;
    a.gamma = gamma.data(), a.beta = beta.data();
    a.epsilon = 1e-5f;
    return a;
  }
};

class LayerNormPathTest : public ::testing::TestWithParam<LayerNormKernel> {};

TEST_P(LayerNormPathTest, FusedResidualMatchesDoubleReferenceOnOddSizes) {
  const LayerNormKernel& path = GetParam();
  if (!kernels::cpu_supports(path.isa)) GTEST_SKIP() << path.name << " is not supported by this CPU";
  unsigned seed = 1;
  for (auto [f, t] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {2, 7}, {768, 129}, {384, 65}, {33, 200}}) {
    for (bool with_residual : {false, true}) {
      const Problem p(f, t, seed++, 40.0f);  // a large common offset tests the cancellation
      std::vector<float> got(size_t(f * p.ld), NAN), want(size_t(f * p.ld), NAN);
      LayerNormArgs a = p.args(with_residual);
      a.y = got.data(), a.ld_y = p.ld;
      layer_norm(a, path);
      a.y = want.data();
      layer_norm(a, reference_kernel());
      for (int64_t i = 0; i < f; ++i)
        for (int64_t m = 0; m < t; ++m)
          ASSERT_NEAR(got[i * p.ld + m], want[i * p.ld + m], 2e-5f)
              << "F=" << f << " T=" << t << " residual=" << with_residual << " at f=" << i << " m=" << m;
    }
  }
}

TEST_P(LayerNormPathTest, FusedU8QuantizationIsExactlyQuantizingTheFp32Output) {
  const LayerNormKernel& path = GetParam();
  if (!kernels::cpu_supports(path.isa)) GTEST_SKIP() << path.name << " is not supported by this CPU";
  const Problem p(96, 77, 5);
  std::vector<float> y(size_t(96 * p.ld));
  std::vector<uint8_t> q(size_t(96 * p.ld), 0xAB);
  LayerNormArgs a = p.args(true);
  a.y = y.data(), a.ld_y = p.ld;
  a.y_u8 = q.data(), a.ld_y_u8 = p.ld;
  a.u8_scale = 0.02f, a.u8_zero_point = 120;  // |y| up to ~4 saturates at both ends
  layer_norm(a, path);
  int saturated = 0;
  for (int64_t f = 0; f < 96; ++f) {
    for (int64_t m = 0; m < 77; ++m) {
      const float scaled = y[f * p.ld + m] * (1.0f / 0.02f);
      const int want = std::min(255, std::max(0, int(std::nearbyint(scaled)) + 120));
      ASSERT_EQ(int(q[f * p.ld + m]), want) << "f=" << f << " m=" << m << " y=" << y[f * p.ld + m];
      saturated += want == 0 || want == 255;
    }
    for (int64_t m = 77; m < p.ld; ++m) ASSERT_EQ(q[f * p.ld + m], 0xAB) << "wrote past the tokens";
  }
  EXPECT_GT(saturated, 0) << "the data should exercise the clamp";
  // u8 alone (no fp32 output) gives the same bytes.
  std::vector<uint8_t> q_only(q.size(), 0xAB);
  a.y = nullptr, a.y_u8 = q_only.data();
  layer_norm(a, path);
  EXPECT_EQ(q_only, q);
}

TEST_P(LayerNormPathTest, OutputMayOverwriteTheResidualInPlace) {
  const LayerNormKernel& path = GetParam();
  if (!kernels::cpu_supports(path.isa)) GTEST_SKIP() << path.name << " is not supported by this CPU";
  Problem p(64, 40, 9);
  std::vector<float> want(size_t(64 * p.ld));
  LayerNormArgs a = p.args(true);
  a.y = want.data(), a.ld_y = p.ld;
  layer_norm(a, path);
  a.y = p.residual.data();
  layer_norm(a, path);
  for (int64_t f = 0; f < 64; ++f)
    for (int64_t m = 0; m < 40; ++m) ASSERT_EQ(p.residual[f * p.ld + m], want[f * p.ld + m]);
}

TEST_P(LayerNormPathTest, FusedFeatureBiasEqualsAddingItToXFirst) {
  const LayerNormKernel& path = GetParam();
  if (!kernels::cpu_supports(path.isa)) GTEST_SKIP() << path.name << " is not supported by this CPU";
  Problem p(50, 70, 17);
  const std::vector<float> bias = test::random_floats(50, 18, -2.0f, 2.0f);
  std::vector<float> fused(size_t(50 * p.ld)), separate(fused.size());
  LayerNormArgs a = p.args(true);
  a.x_bias = bias.data();
  a.y = fused.data(), a.ld_y = p.ld;
  layer_norm(a, path);
  for (int64_t f = 0; f < 50; ++f)
    for (int64_t m = 0; m < p.ld; ++m) p.x[f * p.ld + m] += bias[f];
  a = p.args(true);
  a.y = separate.data(), a.ld_y = p.ld;
  layer_norm(a, path);
  for (int64_t f = 0; f < 50; ++f)
    for (int64_t m = 0; m < 70; ++m) ASSERT_NEAR(fused[f * p.ld + m], separate[f * p.ld + m], 1e-5f) << f << "," << m;
}

INSTANTIATE_TEST_SUITE_P(AllPaths, LayerNormPathTest,
                         ::testing::ValuesIn(layer_norm_kernels()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(LayerNorm, BadArgumentsAreErrorsNamingTheField) {
  const Problem p(8, 8, 1);
  std::vector<float> y(size_t(8 * p.ld));
  auto message = [&](auto&& mutate) -> std::string {
    LayerNormArgs a = p.args(true);
    a.y = y.data(), a.ld_y = p.ld;
    mutate(a);
    try {
      layer_norm(a);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message([](LayerNormArgs&) {}), "");
  EXPECT_NE(message([](LayerNormArgs& a) { a.features = 0; }).find("features=0"), std::string::npos);
  EXPECT_NE(message([](LayerNormArgs& a) { a.ld_residual = 2; }).find("ld_residual=2"), std::string::npos);
  EXPECT_NE(message([](LayerNormArgs& a) { a.y = nullptr; }).find("no output"), std::string::npos);
  std::vector<uint8_t> q(size_t(8 * p.ld));
  EXPECT_NE(message([&](LayerNormArgs& a) { a.y_u8 = q.data(), a.ld_y_u8 = p.ld, a.u8_scale = 0; }).find("u8_scale"),
            std::string::npos);
  EXPECT_NE(message([&](LayerNormArgs& a) { a.y_u8 = q.data(), a.ld_y_u8 = p.ld, a.u8_zero_point = 300; })
                .find("u8_zero_point=300"),
            std::string::npos);
}

}  // namespace
}  // namespace fastbert
