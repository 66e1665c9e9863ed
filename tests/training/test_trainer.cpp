#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/train/batch.h"
#include "fastbert/train/predict.h"
#include "fastbert/train/trainer.h"
#include "training_fixtures.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using testing::TestDir;

Recipe tiny_recipe(const TestDir& tmp, const BertConfig& config, int64_t epochs, int64_t batch, int64_t accum,
                   double lr) {
  Recipe r;
  r.source = tmp / "recipe.yaml";
  r.model = testing::write_config_only_checkpoint(tmp / "init", config);
  r.output = tmp / "out";
  r.threads = 1;  // tiny matrices: a second thread only adds synchronisation
  r.data.train = tmp / "train.h5";
  r.data.max_seq = 32;
  StageSettings s;
  s.name = "finetune";
  s.epochs = epochs;
  s.batch_size = batch;
  s.grad_accum = accum;
  s.learning_rate = lr;
  s.warmup_fraction = 0.1;
  s.weight_decay = 0.01;
  s.seed = 11;
  s.save_every_steps = 1000;
  r.stages.push_back(s);
  return r;
}

TrainOptions quiet(int64_t stop_after = 0) {
  TrainOptions o;
  o.log = false;
  o.stop_after_steps = stop_after;
  return o;
}

// Token-level F1 (SQuAD's definition on token positions) of the best span
// under start+end logit, end >= start, length <= 30, inside the context.
double span_f1(const SquadLogits& logits, const SquadFeatures& f) {
  double total = 0;
  const int64_t s = f.max_seq;
  for (int64_t w = 0; w < f.num_windows(); ++w) {
    const float* st = logits.start_logits.data() + w * s;
    const float* en = logits.end_logits.data() + w * s;
    const int32_t* off = f.offsets.data() + w * s * 2;
    float best = -1e30f;
    int64_t bs = 0, be = 0;
    for (int64_t i = 0; i < s; ++i) {
      if (off[2 * i] < 0) continue;
      for (int64_t j = i; j < std::min(s, i + 30); ++j) {
        if (off[2 * j] < 0) continue;
        if (st[i] + en[j] > best) best = st[i] + en[j], bs = i, be = j;
      }
    }
    const int64_t gs = f.start_positions[w], ge = f.end_positions[w];
    const int64_t overlap = std::max<int64_t>(0, std::min(be, ge) - std::max(bs, gs) + 1);
    if (overlap == 0) continue;
    const double p = static_cast<double>(overlap) / (be - bs + 1), r = static_cast<double>(overlap) / (ge - gs + 1);
    total += 2 * p * r / (p + r);
  }
  return 100.0 * total / static_cast<double>(f.num_windows());
}

TEST(Trainer, LinearScheduleWarmsUpThenDecaysToZero) {
  EXPECT_DOUBLE_EQ(linear_schedule_lr(1.0, 0, 10, 110), 0.0);
  EXPECT_DOUBLE_EQ(linear_schedule_lr(1.0, 5, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(linear_schedule_lr(1.0, 10, 10, 110), 1.0);
  EXPECT_DOUBLE_EQ(linear_schedule_lr(1.0, 60, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(linear_schedule_lr(1.0, 110, 10, 110), 0.0);
  EXPECT_DOUBLE_EQ(linear_schedule_lr(2.0, 0, 0, 4), 2.0);
}

TEST(Trainer, EpochOrderIsAPermutationThatDependsOnSeedAndEpoch) {
  auto a = epoch_order(100, 1, 0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(a, epoch_order(100, 1, 0));
  EXPECT_NE(a, epoch_order(100, 1, 1));
  EXPECT_NE(a, epoch_order(100, 2, 0));
}

TEST(Trainer, GroupedOrderVisitsEveryWindowOnceWithSimilarLengthsPerStep) {
  std::vector<int64_t> lengths(1003);
  for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = 20 + static_cast<int64_t>((i * 7919) % 237);
  const int64_t per_step = 8;
  const auto order = grouped_epoch_order(lengths, per_step, 3, 1);
  EXPECT_EQ(order, grouped_epoch_order(lengths, per_step, 3, 1));
  EXPECT_NE(order, grouped_epoch_order(lengths, per_step, 3, 2));
  auto sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1003; ++i) ASSERT_EQ(sorted[i], i);
  // Padding computed per step (longest minus each) is far below a plain shuffle's.
  auto padding = [&](const std::vector<int64_t>& o) {
    int64_t pad = 0;
    for (std::size_t b = 0; b < o.size(); b += per_step) {
      const std::size_t e = std::min(o.size(), b + per_step);
      int64_t longest = 0;
      for (std::size_t i = b; i < e; ++i) longest = std::max(longest, lengths[o[i]]);
      for (std::size_t i = b; i < e; ++i) pad += longest - lengths[o[i]];
    }
    return pad;
  };
  EXPECT_LT(padding(order) * 5, padding(epoch_order(1003, 3, 1)));
}

TEST(Trainer, BatchCutsTrailingPaddingOnly) {
  const SquadFeatures f = testing::copy_span_task(4, 1);
  const Batch b = make_batch(f, {0, 2});
  EXPECT_EQ(b.length,
            1 + 0 + 1 + 20 + 1 + std::max(f.start_positions[0], f.start_positions[2]) * 0 +
                std::max(f.end_positions[0] - f.start_positions[0], f.end_positions[2] - f.start_positions[2]) + 1);
  EXPECT_EQ(b.input_ids.size(0), 2);
  EXPECT_EQ(b.input_ids[1][0].item<int64_t>(), f.input_ids[2 * 32]);
  EXPECT_EQ(b.end_positions[1].item<int64_t>(), f.end_positions[2]);
}

TEST(Trainer, TinyModelLearnsTheCopyTheSpanTaskToF1Above90) {
  TestDir tmp;
  BertConfig config = testing::tiny_config();
  config.hidden_size = 64;
  config.intermediate_size = 128;
  config.hidden_dropout_prob = 0;
  config.attention_probs_dropout_prob = 0;
  const SquadFeatures train = testing::copy_span_task(2000, 1);
  const SquadFeatures dev = testing::copy_span_task(300, 2);
  Recipe recipe = tiny_recipe(tmp, config, 16, 32, 1, 3e-3);
  const auto t0 = std::chrono::steady_clock::now();
  const TrainReport report = train_recipe(recipe, train, quiet());
  ASSERT_TRUE(report.finished);
  ASSERT_TRUE(fs::exists(recipe.output / "final" / "model.safetensors"));
  BertForQuestionAnswering model = load_bert_qa(recipe.output / "final");
  const double f1 = span_f1(predict_logits(model, dev, 64), dev);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("copy-the-span: %lld steps, loss %.3f -> %.3f, dev F1 %.1f, %.1f s\n",
              static_cast<long long>(report.steps_run), report.stages[0].losses.front(), report.stages[0].losses.back(),
              f1, seconds);
  EXPECT_GT(f1, 90.0);
}

TEST(Trainer, KillAndResumeGivesTheSameLossCurveAndWeights) {
  const BertConfig config = testing::tiny_config();
  const SquadFeatures train = testing::copy_span_task(200, 3);
  TestDir straight, split;
  // grad_accum 2 with an odd batch size: the resume point falls inside an
  // epoch and steps span several micro-batches.
  const Recipe a = tiny_recipe(straight, config, 3, 7, 2, 5e-4);
  const Recipe b = tiny_recipe(split, config, 3, 7, 2, 5e-4);
  const TrainReport full = train_recipe(a, train, quiet());
  ASSERT_TRUE(full.finished);

  const TrainReport first = train_recipe(b, train, quiet(17));
  EXPECT_FALSE(first.finished);
  EXPECT_EQ(first.steps_run, 17);
  ASSERT_TRUE(fs::exists(b.output / "checkpoint-last" / "trainer_state.json"));
  const TrainReport second = train_recipe(b, train, quiet(13));  // stops again, mid-epoch
  EXPECT_TRUE(second.resumed);
  const TrainReport rest = train_recipe(b, train, quiet());
  ASSERT_TRUE(rest.finished);
  EXPECT_EQ(first.steps_run + second.steps_run + rest.steps_run, full.steps_run);

  const auto& la = full.stages[0].losses;
  const auto& lb = rest.stages[0].losses;
  ASSERT_EQ(la.size(), lb.size());
  for (std::size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(la[i], lb[i], 1e-6) << "step " << i + 1;

  BertForQuestionAnswering ma = load_bert_qa(a.output / "final");
  BertForQuestionAnswering mb = load_bert_qa(b.output / "final");
  auto pb = mb->named_parameters();
  for (const auto& p : ma->named_parameters())
    EXPECT_TRUE(torch::allclose(p.value(), pb[p.key()], 1e-6, 1e-7)) << p.key();
}

TEST(Trainer, FinishedRunDoesNothingWhenStartedAgain) {
  TestDir tmp;
  const SquadFeatures train = testing::copy_span_task(40, 4);
  const Recipe r = tiny_recipe(tmp, testing::tiny_config(), 1, 8, 1, 1e-3);
  const TrainReport done = train_recipe(r, train, quiet());
  ASSERT_TRUE(done.finished);
  const auto written = fs::last_write_time(r.output / "final" / "model.safetensors");
  const TrainReport again = train_recipe(r, train, quiet());
  EXPECT_TRUE(again.finished);
  EXPECT_EQ(again.steps_run, 0);
  EXPECT_EQ(again.stages[0].losses, done.stages[0].losses);
  EXPECT_EQ(fs::last_write_time(r.output / "final" / "model.safetensors"), written);
}

TEST(Trainer, ResumeWithAChangedRecipeIsRefused) {
  TestDir tmp;
  const SquadFeatures train = testing::copy_span_task(40, 5);
  Recipe r = tiny_recipe(tmp, testing::tiny_config(), 2, 8, 1, 1e-3);
  train_recipe(r, train, quiet(2));
  r.stages[0].learning_rate = 2e-3;
  try {
    train_recipe(r, train, quiet());
    FAIL() << "a changed learning rate was resumed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("learning_rate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("different recipe"), std::string::npos) << e.what();
  }
  // Settings that do not change the result may change.
  r.stages[0].learning_rate = 1e-3;
  r.stages[0].log_every_steps = 1;
  EXPECT_TRUE(train_recipe(r, train, quiet()).finished);
}

TEST(Trainer, KillAndResumeWithGroupedBatchesGivesTheSameLossCurve) {
  const SquadFeatures train = testing::copy_span_task(120, 12, 64, 32, 20);
  TestDir straight, split;
  Recipe a = tiny_recipe(straight, testing::tiny_config(), 2, 5, 1, 5e-4);
  Recipe b = tiny_recipe(split, testing::tiny_config(), 2, 5, 1, 5e-4);
  a.stages[0].group_by_length = b.stages[0].group_by_length = true;
  const TrainReport full = train_recipe(a, train, quiet());
  train_recipe(b, train, quiet(11));
  const TrainReport rest = train_recipe(b, train, quiet());
  ASSERT_EQ(full.stages[0].losses.size(), rest.stages[0].losses.size());
  for (std::size_t i = 0; i < full.stages[0].losses.size(); ++i)
    EXPECT_NEAR(full.stages[0].losses[i], rest.stages[0].losses[i], 1e-6) << "step " << i + 1;
}

TEST(Trainer, GradientAccumulationEqualsOneLargerBatch) {
  BertConfig config = testing::tiny_config();
  config.hidden_dropout_prob = 0;
  config.attention_probs_dropout_prob = 0;
  const SquadFeatures train = testing::copy_span_task(48, 6);
  TestDir one, two;
  const TrainReport big = train_recipe(tiny_recipe(one, config, 1, 12, 1, 1e-3), train, quiet());
  const TrainReport small = train_recipe(tiny_recipe(two, config, 1, 4, 3, 1e-3), train, quiet());
  ASSERT_EQ(big.stages[0].losses.size(), 4u);
  ASSERT_EQ(small.stages[0].losses.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(big.stages[0].losses[i], small.stages[0].losses[i], 1e-5);
}

TEST(Trainer, PredictMatchesAFullLengthForwardPass) {
  torch::manual_seed(9);
  BertForQuestionAnswering model(testing::tiny_config());
  const SquadFeatures f = testing::copy_span_task(5, 7);
  const SquadLogits logits = predict_logits(model, f, 2);
  ASSERT_EQ(logits.num_windows(), 5);
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<int64_t> ids(f.input_ids.begin(), f.input_ids.end());
  std::vector<int64_t> types(f.token_type_ids.begin(), f.token_type_ids.end());
  std::vector<int64_t> mask(f.attention_mask.begin(), f.attention_mask.end());
  const QaLogits full =
      model(torch::tensor(ids).view({5, 32}), torch::tensor(types).view({5, 32}), torch::tensor(mask).view({5, 32}));
  for (int64_t w = 0; w < 5; ++w)
    for (int64_t j = 0; j < 32; ++j) {
      if (!f.attention_mask[w * 32 + j]) continue;
      EXPECT_NEAR(logits.start_logits[w * 32 + j], full.start[w][j].item<float>(), 1e-4);
      EXPECT_NEAR(logits.end_logits[w * 32 + j], full.end[w][j].item<float>(), 1e-4);
    }
}

TEST(Trainer, PredictDoesNotDependOnBatchSizeOrWindowLengths) {
  torch::manual_seed(10);
  BertForQuestionAnswering model(testing::tiny_config());
  SquadFeatures f = testing::copy_span_task(7, 8);
  // Shorten some windows so that batches group windows of different lengths.
  for (int64_t w : {1, 4, 5}) {
    for (int64_t j = 20; j < 32; ++j) f.attention_mask[w * 32 + j] = 0, f.input_ids[w * 32 + j] = 0;
    f.start_positions[w] = f.end_positions[w] = 0;
  }
  const SquadLogits one = predict_logits(model, f, 1);
  const SquadLogits three = predict_logits(model, f, 3);
  for (std::size_t i = 0; i < one.start_logits.size(); ++i) {
    ASSERT_NEAR(one.start_logits[i], three.start_logits[i], 1e-4) << i;
    ASSERT_NEAR(one.end_logits[i], three.end_logits[i], 1e-4) << i;
    if (!f.attention_mask[i]) {
      ASSERT_EQ(one.start_logits[i], kPaddingLogit) << i;
    }
  }
}

TEST(Trainer, FeaturesOfTheWrongShapeAreAClearError) {
  TestDir tmp;
  SquadFeatures f = testing::copy_span_task(4, 8);
  f.token_type_ids.pop_back();
  const Recipe r = tiny_recipe(tmp, testing::tiny_config(), 1, 2, 1, 1e-3);
  try {
    train_recipe(r, f, quiet());
    FAIL() << "inconsistent features were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token_type_ids"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------- resuming a damaged checkpoint

// A tiny run stopped after 2 of its 10 steps: checkpoint-last holds weights,
// optimizer state and trainer_state.json for the tests to damage.
class DamagedResume : public ::testing::Test {
 protected:
  void SetUp() override {
    recipe_ = tiny_recipe(tmp_, testing::tiny_config(), 2, 8, 1, 1e-3);
    ASSERT_FALSE(train_recipe(recipe_, train_, quiet(2)).finished);
    ckpt_ = recipe_.output / "checkpoint-last";
    ASSERT_TRUE(fs::exists(ckpt_ / "optimizer.pt"));
  }

  // The message of the refusal to resume (and that nothing was trained).
  std::string refusal() {
    try {
      const TrainReport report = train_recipe(recipe_, train_, quiet());
      ADD_FAILURE() << "the damaged checkpoint was resumed (" << report.steps_run << " steps run)";
    } catch (const Error& e) {
      EXPECT_FALSE(fs::exists(recipe_.output / "final")) << "a final model was written";
      return e.what();
    }
    return "";
  }

  void set_state_field(const std::string& key, const nlohmann::json& value) {
    nlohmann::json j = nlohmann::json::parse(read_file(ckpt_ / "trainer_state.json"));
    j[key] = value;
    write_file_atomic(ckpt_ / "trainer_state.json", j.dump());
  }

  TestDir tmp_;
  SquadFeatures train_ = testing::copy_span_task(40, 5);
  Recipe recipe_;
  fs::path ckpt_;
};

TEST_F(DamagedResume, MissingWeightsAreRefusedNamingTheFile) {
  fs::remove(ckpt_ / "model.safetensors");
  const std::string msg = refusal();
  EXPECT_NE(msg.find((ckpt_ / "model.safetensors").string() + ": missing"), std::string::npos) << msg;
}

TEST_F(DamagedResume, StepOutOfRangeIsRefusedNamingTheFileAndField) {
  for (const nlohmann::json& step : {nlohmann::json(-5), nlohmann::json(1000000000), nlohmann::json(1e9),
                                     nlohmann::json(2.5), nlohmann::json(18446744073709551615ull)}) {
    set_state_field("step", step);
    const std::string msg = refusal();
    EXPECT_NE(msg.find((ckpt_ / "trainer_state.json").string() + ": field 'step'"), std::string::npos)
        << step.dump() << ": " << msg;
  }
  set_state_field("step", 7);  // in range, but the saved losses are of 2 steps
  EXPECT_NE(refusal().find("field 'losses' holds 2 losses"), std::string::npos);
  set_state_field("step", 2);
  set_state_field("stage", -1);
  EXPECT_NE(refusal().find("field 'stage': -1 is out of range [0, 0]"), std::string::npos);
}

TEST_F(DamagedResume, WeightsOfAnotherModelAreRefusedNamingTheKey) {
  BertConfig other = testing::tiny_config();
  other.intermediate_size = 96;
  BertForQuestionAnswering model(other);
  write_bert_qa_files(model, ckpt_, "");
  const std::string msg = refusal();
  EXPECT_NE(msg.find((ckpt_ / "config.json").string() + ": key 'intermediate_size' differs from"), std::string::npos)
      << msg;
}

TEST_F(DamagedResume, OptimizerStateOfOtherParametersIsRefused) {
  // The same parameter names and count, other shapes: another run's optimizer.pt.
  TestDir other_tmp;
  BertConfig other = testing::tiny_config();
  other.intermediate_size = 96;
  const Recipe other_recipe = tiny_recipe(other_tmp, other, 2, 8, 1, 1e-3);
  train_recipe(other_recipe, train_, quiet(2));
  fs::copy_file(other_recipe.output / "checkpoint-last" / "optimizer.pt", ckpt_ / "optimizer.pt",
                fs::copy_options::overwrite_existing);
  const std::string msg = refusal();
  EXPECT_NE(msg.find((ckpt_ / "optimizer.pt").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("written for other parameters"), std::string::npos) << msg;
}

TEST(Trainer, StepCountsThatOverflowAreRefused) {
  TestDir tmp;
  Recipe r = tiny_recipe(tmp, testing::tiny_config(), INT64_MAX, 8, 1, 1e-3);
  try {
    train_recipe(r, testing::copy_span_task(40, 5), quiet());
    FAIL() << "epochs 2^63-1 was trained";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflows the step count"), std::string::npos) << e.what();
  }
  r.stages[0].epochs = 1;
  r.stages[0].batch_size = r.stages[0].grad_accum = int64_t{1} << 62;
  EXPECT_THROW(train_recipe(r, testing::copy_span_task(40, 5), quiet()), Error);
}

TEST(Trainer, StartingModelThatIsTheRunsOwnOutputIsRefused) {
  TestDir tmp;
  Recipe r = tiny_recipe(tmp, testing::tiny_config(), 1, 8, 1, 1e-3);
  fs::create_directories(r.output);
  fs::rename(r.model, r.output / "final");
  r.model = r.output / "final";
  try {
    train_recipe(r, testing::copy_span_task(40, 5), quiet());
    FAIL() << "a run was allowed to replace its own starting model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is the same file as the input model"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(r.model / "config.json"));
}

}  // namespace
}  // namespace fastbert
