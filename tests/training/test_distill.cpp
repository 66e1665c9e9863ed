#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fastbert/common/error.h"
#include "fastbert/distill/distillation_loss.h"
#include "fastbert/model/traced_forward.h"
#include "training_fixtures.h"

namespace fastbert {
namespace {

TEST(Distill, KlIsZeroForIdenticalLogitsAndPositiveOtherwise) {
  torch::manual_seed(1);
  QaLogits a{torch::randn({3, 8}), torch::randn({3, 8})};
  auto mask = torch::ones({3, 8}, torch::kLong);
  EXPECT_NEAR(distillation_kl(a, a, mask, 2.0).item<double>(), 0.0, 1e-6);
  QaLogits b{torch::randn({3, 8}), torch::randn({3, 8})};
  EXPECT_GT(distillation_kl(b, a, mask, 2.0).item<double>(), 1e-3);
}

TEST(Distill, KlMatchesTheFormulaWithTemperatureSquaredAndIgnoresPadding) {
  torch::manual_seed(2);
  auto s = torch::randn({2, 6}), t = torch::randn({2, 6});
  auto mask = torch::tensor({{1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1}}, torch::kLong);
  const double T = 3.0;
  double expected = 0;
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t n = mask[b].sum().item<int64_t>();
    auto ps = torch::softmax(s[b].slice(0, 0, n) / T, 0), pt = torch::softmax(t[b].slice(0, 0, n) / T, 0);
    expected += (pt * (pt.log() - ps.log())).sum().item<double>() / 2;
  }
  // Start and end both use (s, t) here, so their mean is the one KL.
  const double got = distillation_kl({s, s}, {t, t}, mask, T).item<double>();
  EXPECT_NEAR(got, expected * T * T, 1e-5);
  // Changing padded logits changes nothing.
  auto s2 = s.clone();
  s2[0][5] = 100.0;
  EXPECT_NEAR(distillation_kl({s2, s2}, {t, t}, mask, T).item<double>(), got, 1e-6);
}

TEST(Distill, KlGradientPullsStudentTowardTeacher) {
  torch::manual_seed(3);
  auto s = torch::randn({4, 10}).requires_grad_(true);
  auto t = torch::randn({4, 10});
  auto mask = torch::ones({4, 10}, torch::kLong);
  torch::optim::SGD opt({s}, 1.0);
  const double before = distillation_kl({s, s}, {t, t}, mask, 1.0).item<double>();
  for (int i = 0; i < 50; ++i) {
    opt.zero_grad();
    distillation_kl({s, s}, {t, t}, mask, 1.0).backward();
    opt.step();
  }
  EXPECT_LT(distillation_kl({s, s}, {t, t}, mask, 1.0).item<double>(), before * 0.1);
}

TEST(Distill, HiddenMseUsesTheLayerMapAndRealTokensOnly) {
  std::vector<torch::Tensor> student = {torch::zeros({1, 3, 4}), torch::ones({1, 3, 4})};
  std::vector<torch::Tensor> teacher = {torch::zeros({1, 3, 4}), torch::zeros({1, 3, 4}), torch::full({1, 3, 4}, 3.0)};
  auto mask = torch::tensor({{1, 1, 0}}, torch::kLong);
  EXPECT_NEAR(hidden_state_mse(student, teacher, {{1, 2}}, mask).item<double>(), 4.0, 1e-6);
  EXPECT_NEAR(hidden_state_mse(student, teacher, {{0, 0}, {1, 2}}, mask).item<double>(), 2.0, 1e-6);
  student[1][0][2].fill_(100.0);  // a padding position
  EXPECT_NEAR(hidden_state_mse(student, teacher, {{1, 2}}, mask).item<double>(), 4.0, 1e-6);
  EXPECT_THROW(hidden_state_mse(student, teacher, {{2, 0}}, mask), Error);
}

TEST(Distill, TracedForwardEqualsTheModelForwardAndGivesEveryHiddenState) {
  torch::manual_seed(4);
  BertForQuestionAnswering model(testing::tiny_config());
  model->eval();
  auto ids = torch::randint(3, 64, {2, 12}, torch::kLong);
  auto types = torch::zeros_like(ids);
  auto mask = torch::ones_like(ids);
  mask[1].slice(0, 9).fill_(0);
  auto ref = model(ids, types, mask);
  auto trace = traced_forward(model, ids, types, mask, LinearFn(), true);
  EXPECT_TRUE(torch::equal(ref.start, trace.logits.start));
  EXPECT_TRUE(torch::equal(ref.end, trace.logits.end));
  ASSERT_EQ(trace.hidden.size(), 3u);  // embeddings + 2 layers
  std::vector<std::string> seen;
  traced_forward(model, ids, types, mask,
                 [&](const std::string& name, torch::nn::LinearImpl& l, const torch::Tensor& x) {
                   seen.push_back(name);
                   return torch::nn::functional::linear(x, l.weight, l.bias);
                 },
                 false);
  EXPECT_EQ(seen.size(), 13u);  // 6 per layer + qa_outputs
  EXPECT_EQ(seen.front(), "bert.encoder.layer.0.attention.self.query");
  EXPECT_EQ(seen.back(), "qa_outputs");
}

}  // namespace
}  // namespace fastbert
