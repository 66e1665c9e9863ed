#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/quantize/quantization_file.h"
#include "training_fixtures.h"

namespace fastbert {
namespace {

TEST(Quantize, WeightFakeQuantEqualsQuantizeThenDequantize) {
  torch::manual_seed(1);
  auto w = torch::randn({8, 16});
  w[3].zero_();  // an all-zero row (pruned) gets scale 1 and stays zero
  auto scales = weight_scales(w);
  auto q = quantize_weight(w, scales);
  EXPECT_EQ(q.scalar_type(), torch::kInt8);
  EXPECT_EQ(scales[3].item<float>(), 1.0f);
  EXPECT_NEAR(scales[0].item<float>(), w[0].abs().max().item<float>() / 127.0f, 1e-9);
  EXPECT_EQ(q.abs().amax(1).slice(0, 0, 3).min().item<int>(), 127);
  auto dequant = q.to(torch::kFloat32) * scales.unsqueeze(1);
  EXPECT_TRUE(torch::equal(fake_quantize_weight(w), dequant));
  EXPECT_TRUE(fake_quantize_weight(w)[3].eq(0).all().item<bool>());
}

TEST(Quantize, ActivationFakeQuantEqualsQuantizeThenDequantize) {
  const ActivationQuant a = activation_quant(-1.0f, 3.0f);
  EXPECT_FLOAT_EQ(a.scale, 4.0f / 255);
  EXPECT_EQ(a.zero_point, 64);  // round(1 / (4/255)) = round(63.75)
  auto x = torch::linspace(-2, 4, 97);
  auto q = (torch::round(x / a.scale) + a.zero_point).clamp(0, 255);
  auto expected = (q - a.zero_point) * a.scale;
  EXPECT_TRUE(torch::equal(fake_quantize_activation(x, a), expected));
  // A range that does not contain 0 is widened to contain it.
  EXPECT_EQ(activation_quant(0.5f, 2.0f).zero_point, 0);
  EXPECT_FLOAT_EQ(activation_quant(0.5f, 2.0f).scale, 2.0f / 255);
  EXPECT_EQ(activation_quant(-2.0f, -1.0f).zero_point, 255);
}

TEST(Quantize, StraightThroughGradientPassesOnlyInsideTheClampRange) {
  const ActivationQuant a = activation_quant(-1.0f, 1.0f);
  auto x = torch::tensor({-3.0f, -0.5f, 0.2f, 0.9f, 5.0f}).requires_grad_(true);
  fake_quantize_activation(x, a).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), torch::tensor({0.0f, 1.0f, 1.0f, 1.0f, 0.0f})));
  auto w = torch::randn({4, 4}).requires_grad_(true);
  fake_quantize_weight(w).sum().backward();
  EXPECT_TRUE(torch::equal(w.grad(), torch::ones({4, 4})));
}

TEST(Quantize, MinMaxAndPercentileCalibration) {
  ActivationObserver minmax(CalibrationMethod::MinMax, 99.99);
  minmax.observe("a", torch::tensor({-1.0f, 2.0f}));
  minmax.observe("a", torch::tensor({-3.0f, 1.0f}));
  EXPECT_DOUBLE_EQ(minmax.ranges().at("a").min, -3.0);
  EXPECT_DOUBLE_EQ(minmax.ranges().at("a").max, 2.0);
  ActivationObserver pct(CalibrationMethod::Percentile, 99.0);
  auto x = torch::arange(0, 1000, torch::kFloat32);
  x[999] = 1e6;  // one outlier is cut off by the 99th percentile
  pct.observe("b", x);
  EXPECT_LT(pct.ranges().at("b").max, 1000.0);
  EXPECT_GT(pct.ranges().at("b").max, 980.0);
  EXPECT_LT(pct.ranges().at("b").min, 15.0);
}

TEST(Quantize, QuantizationFileRoundTripsAndRefusesDamage) {
  testing::TestDir tmp;
  torch::manual_seed(2);
  BertForQuestionAnswering model(testing::tiny_config());
  ActivationObserver obs(CalibrationMethod::MinMax, 99.99);
  obs.observe("qa_outputs", torch::tensor({-1.0f, 3.0f}));
  Quantization q;
  q.settings.mode = QuantMode::Qat;
  q.set_activations(obs);
  q.set_weight_scales(model);
  EXPECT_EQ(q.layers.size(), 13u);
  q.save(tmp / "quantization.json");
  const Quantization back = Quantization::load(tmp / "quantization.json");
  EXPECT_EQ(back.settings.mode, QuantMode::Qat);
  EXPECT_EQ(back.layers.at("qa_outputs").input.zero_point, 64);
  EXPECT_EQ(back.layers.at("qa_outputs").weight_scales, q.layers.at("qa_outputs").weight_scales);
  write_file_atomic(tmp / "bad.json", "{\"format\": \"fastbert-quantization\", \"version\": 1, \"mode\": \"ptq\"}");
  try {
    Quantization::load(tmp / "bad.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("calibration"), std::string::npos) << e.what();
  }
  write_file_atomic(tmp / "bad2.json", "{not json");
  EXPECT_THROW(Quantization::load(tmp / "bad2.json"), Error);
}

TEST(Quantize, FakeQuantLinearChangesOutputsOnlyByQuantizationError) {
  torch::manual_seed(3);
  BertForQuestionAnswering model(testing::tiny_config());
  model->eval();
  auto ids = torch::randint(3, 64, {2, 12}, torch::kLong);
  auto types = torch::zeros_like(ids), mask = torch::ones_like(ids);
  ActivationObserver obs(CalibrationMethod::MinMax, 99.99);
  auto ref = traced_forward(model, ids, types, mask,
                            [&](const std::string& n, torch::nn::LinearImpl& l, const torch::Tensor& x) {
                              obs.observe(n, x);
                              return torch::nn::functional::linear(x, l.weight, l.bias);
                            },
                            false);
  Quantization q;
  q.set_activations(obs);
  q.set_weight_scales(model);
  auto fq = traced_forward(model, ids, types, mask, q.fake_quant_linear(), false);
  const double diff = (fq.logits.start - ref.logits.start).abs().max().item<double>();
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(diff, 0.05 * ref.logits.start.abs().max().item<double>() + 1e-3);
}

}  // namespace
}  // namespace fastbert
