#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fastbert/model/dropout.h"

namespace fastbert {
namespace {

// Restores LibTorch's intra-op thread count when a test changes it.
struct ThreadCount {
  int saved = torch::get_num_threads();
  ~ThreadCount() { torch::set_num_threads(saved); }
};

TEST(Dropout, KeepsOneMinusPOfTheElementsScaledByItsInverse) {
  torch::manual_seed(1);
  const auto x = torch::ones({1000, 1000});
  const auto y = apply_dropout(x, 0.1, true);
  const auto kept = y.ne(0);
  // 1e6 Bernoulli(0.9) draws: the kept fraction is 0.9 within 0.0003 (1 sd).
  EXPECT_NEAR(kept.to(torch::kDouble).mean().item<double>(), 0.9, 0.0015);
  EXPECT_TRUE(torch::equal(y.masked_select(kept), torch::full({kept.sum().item<int64_t>()}, 1.0f / 0.9f)));
}

// Kept values are scaled exactly as torch::dropout scales them: 1 - p is
// rounded to bf16 before 1 is divided by it (at p = 0.15 dividing in float
// and rounding once would give 1.1797, not 1.1719).
TEST(Dropout, Bf16KeptValuesAreScaledAsTorchDropoutScalesThem) {
  const auto x = torch::ones({256, 256}, torch::kBFloat16);
  torch::manual_seed(2);
  const auto ours = apply_dropout(x, 0.15, true);
  const auto theirs = torch::dropout(x, 0.15, true);
  ASSERT_EQ(ours.scalar_type(), torch::kBFloat16);
  const auto ours_kept = std::get<0>(torch::_unique(ours.masked_select(ours.ne(0)).to(torch::kFloat)));
  const auto theirs_kept = std::get<0>(torch::_unique(theirs.masked_select(theirs.ne(0)).to(torch::kFloat)));
  ASSERT_EQ(ours_kept.numel(), 1);
  EXPECT_TRUE(torch::equal(ours_kept, theirs_kept)) << ours_kept << " vs " << theirs_kept;
  EXPECT_EQ(ours_kept.item<float>(), 1.171875f);
}

TEST(Dropout, MaskDependsOnTheGlobalSeedAndNotOnTheThreadCount) {
  const ThreadCount restore;
  const auto x = torch::ones({3, 1000, 777});  // many Philox chunks, an odd tail
  torch::set_num_threads(1);
  torch::manual_seed(7);
  const auto one_thread = apply_dropout(x, 0.1, true);
  torch::set_num_threads(4);
  torch::manual_seed(7);
  const auto four_threads = apply_dropout(x, 0.1, true);
  EXPECT_TRUE(torch::equal(one_thread, four_threads));
  torch::manual_seed(8);
  EXPECT_FALSE(torch::equal(one_thread, apply_dropout(x, 0.1, true)));
}

TEST(Dropout, EachCallDrawsANewMask) {
  torch::manual_seed(3);
  const auto x = torch::ones({100, 100});
  EXPECT_FALSE(torch::equal(apply_dropout(x, 0.1, true), apply_dropout(x, 0.1, true)));
}

TEST(Dropout, IsTheInputItselfOutsideTrainingOrAtZeroProbability) {
  const auto x = torch::randn({4, 5});
  EXPECT_TRUE(apply_dropout(x, 0.1, false).is_same(x));
  EXPECT_TRUE(apply_dropout(x, 0.0, true).is_same(x));
}

TEST(Dropout, GradientIsTheSameScaledMask) {
  torch::manual_seed(5);
  const auto x = torch::randn({64, 33}).requires_grad_(true);
  const auto y = apply_dropout(x, 0.25, true);
  y.sum().backward();
  const auto noise = x.grad();
  EXPECT_TRUE(torch::allclose(y, x.detach() * noise));
  const auto values = std::get<0>(torch::_unique(noise));
  ASSERT_EQ(values.numel(), 2);
  EXPECT_EQ(values[0].item<float>(), 0.0f);
  EXPECT_EQ(values[1].item<float>(), 1.0f / 0.75f);
}

TEST(Dropout, NonContiguousInputKeepsItsShapeAndValues) {
  torch::manual_seed(6);
  const auto x = torch::randn({40, 30}).t();
  const auto y = apply_dropout(x, 0.5, true);
  ASSERT_EQ(y.sizes(), x.sizes());
  const auto kept = y.ne(0);
  EXPECT_TRUE(torch::allclose(y.masked_select(kept), x.masked_select(kept) * 2.0));
}

}  // namespace
}  // namespace fastbert
