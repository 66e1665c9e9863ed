#include "fastbert/kernels/softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/kernels/isa.h"
#include "ops_test_util.h"

namespace fastbert {
namespace {

// The three-pass definition in double: the oracle for every softmax path.
std::vector<double> softmax_definition(const float* x, int64_t n) {
  double max_x = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max_x = std::max(max_x, double(x[i]));
  std::vector<double> y(n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(double(x[i]) - max_x));
  for (double& v : y) v /= sum;
  return y;
}


// The two-pass paths never subtract the max: they reach 1e-6 relative. The
// fp32 three-pass paths round x - max (|x - max| up to 60 here, so up to
// 60 * 2^-24 = 3.6e-6 absolute in the exponent): 1e-5 relative.
double relative_tolerance(const SoftmaxKernel& path) {
  return std::string(path.name).find("threepass") != std::string::npos ? 1e-5 : 1e-6;
}

class SoftmaxPathTest : public ::testing::TestWithParam<SoftmaxKernel> {};

TEST_P(SoftmaxPathTest, EqualsTheThreePassDefinitionInDoubleWithinStatedRelativeError) {
  const SoftmaxKernel& path = GetParam();
  if (!kernels::cpu_supports(path.isa)) GTEST_SKIP() << path.name << " is not supported by this CPU";
  unsigned seed = 1;
  for (int64_t cols : {1, 7, 16, 17, 129, 384, 1000}) {
    // Range +-30 spreads the probabilities over ~26 decades, all normal floats.
    const int64_t rows = 3, ld = cols + 5;
    const std::vector<float> x = test::random_floats(size_t(rows * ld), seed++, -30.0f, 30.0f);
    std::vector<float> y(x.size(), NAN);
    softmax(x.data(), ld, y.data(), ld, rows, cols, path);
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<double> want = softmax_definition(x.data() + r * ld, cols);
      for (int64_t i = 0; i < cols; ++i)
        ASSERT_NEAR(y[r * ld + i], want[i], relative_tolerance(path) * want[i] + 1e-37)
            << path.name << " cols=" << cols << " row=" << r << " i=" << i;
      for (int64_t i = cols; i < ld; ++i) ASSERT_TRUE(std::isnan(y[r * ld + i])) << "wrote past the row";
    }
  }
}

TEST_P(SoftmaxPathTest, HugeInputsDoNotOverflowAndMinusInfinityMasks) {
  const SoftmaxKernel& path = GetParam();
  if (!kernels::cpu_supports(path.isa)) GTEST_SKIP() << path.name << " is not supported by this CPU";
  // e^500 overflows fp32; the answer is still well defined.
  std::vector<float> x = {500.0f, 499.0f, -INFINITY, 498.0f, -INFINITY};
  std::vector<float> y(x.size());
  softmax(x.data(), 5, y.data(), 5, 1, 5, path);
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(y[0], 1 / z, 1e-6);
  EXPECT_NEAR(y[1], std::exp(-1.0) / z, 1e-6);
  EXPECT_NEAR(y[3], std::exp(-2.0) / z, 1e-6);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[4], 0.0f);
}

TEST_P(SoftmaxPathTest, InPlaceGivesTheSameAsOutOfPlace) {
  const SoftmaxKernel& path = GetParam();
  if (!kernels::cpu_supports(path.isa)) GTEST_SKIP() << path.name << " is not supported by this CPU";
  std::vector<float> x = test::random_floats(2 * 45, 3, -5, 5);
  std::vector<float> y(x.size());
  softmax(x.data(), 45, y.data(), 45, 2, 45, path);
  softmax(x.data(), 45, x.data(), 45, 2, 45, path);
  EXPECT_EQ(x, y);
}

INSTANTIATE_TEST_SUITE_P(AllPaths, SoftmaxPathTest,
                         ::testing::ValuesIn(softmax_kernels()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Softmax, BadShapeIsAClearError) {
  std::vector<float> x(10);
  EXPECT_THROW(softmax(x.data(), 2, x.data(), 5, 2, 5), Error);
  EXPECT_THROW(softmax(x.data(), 5, x.data(), 5, 0, 5), Error);
  EXPECT_THROW(softmax(nullptr, 5, x.data(), 5, 2, 5), Error);
}

}  // namespace
}  // namespace fastbert
