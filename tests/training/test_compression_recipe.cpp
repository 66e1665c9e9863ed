#include <gtest/gtest.h>

#include <tuple>
#include <torch/torch.h>

#include <chrono>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/formats/safetensors.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/model/traced_forward.h"
#include "fastbert/prune/block_pruner.h"
#include "fastbert/quantize/quantization_file.h"
#include "fastbert/train/compression_commands.h"
#include "fastbert/train/recipe.h"
#include "fastbert/train/trainer.h"
#include "training_fixtures.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using testing::TestDir;

// ---------------------------------------------------------------- validation

class CompressionRecipe : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_config_only_checkpoint(tmp_ / "model", testing::tiny_config());
    testing::write_config_only_checkpoint(tmp_ / "teacher", testing::tiny_config());
  }
  std::string error_of(const std::string& text) {
    try {
      Recipe::parse(text, tmp_ / "r.yaml");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static std::string recipe(const std::string& stage_extra) {
    return "model: model\noutput: out\ndata:\n  train: train.h5\n  max_seq: 32\n  max_query: 4\nstages:\n"
           "  - name: s\n    batch_size: 8\n" + stage_extra;
  }
  TestDir tmp_;
};

const char* kFull = R"(    prune:
      block: [4, 1]
      criterion: snip_momentum
      schedule: exponential
      start_step: 5
      end_step: 50
      initial_sparsity: 0.1
      target_sparsity: 0.8
      scope: per_layer
      max_layer_sparsity: 0.9
      layers: ["*.attention.self.*", "bert.encoder.layer.1.output.dense"]
      update_every_steps: 5
      momentum: 0.8
    distill:
      teacher: teacher
      temperature: 3
      alpha: 0.7
      hidden_mse: {layer_map: [[1, 1], [2, 2]], weight: 0.5}
      precompute_logits: true
    quantize:
      mode: qat
      calibration: percentile
      percentile: 99.9
      calibration_batches: 4
      start_step: 10
)";

TEST_F(CompressionRecipe, EverySectionParsesWithPathsRelativeToTheRecipe) {
  const Recipe r = Recipe::parse(recipe(kFull), tmp_ / "r.yaml");
  const StageSettings& s = r.stages.at(0);
  ASSERT_TRUE(s.prune.enabled && s.distill.enabled && s.quantize.enabled);
  EXPECT_EQ(s.prune.criterion, PruneCriterion::SnipMomentum);
  EXPECT_EQ(s.prune.schedule, ScheduleKind::Exponential);
  EXPECT_EQ(s.prune.scope, PruneScope::PerLayer);
  EXPECT_EQ(s.prune.end_step, 50);
  EXPECT_DOUBLE_EQ(s.prune.target_sparsity, 0.8);
  EXPECT_EQ(s.prune.layers.size(), 2u);
  EXPECT_EQ(s.distill.teacher, tmp_ / "teacher");
  EXPECT_EQ(s.distill.layer_map.size(), 2u);
  EXPECT_DOUBLE_EQ(s.distill.hidden_weight, 0.5);
  EXPECT_TRUE(s.distill.precompute_logits);
  EXPECT_EQ(s.quantize.mode, QuantMode::Qat);
  EXPECT_EQ(s.quantize.calibration, CalibrationMethod::Percentile);
  EXPECT_EQ(s.quantize.start_step, 10);
  // A stage without sections is plain fine-tuning; settings change the resume key.
  const Recipe plain = Recipe::parse(recipe(""), tmp_ / "r.yaml");
  EXPECT_FALSE(plain.stages[0].prune.enabled || plain.stages[0].distill.enabled || plain.stages[0].quantize.enabled);
  EXPECT_NE(plain.resume_key(0), r.resume_key(0));
  EXPECT_EQ(plain.resume_key(0).find("compression"), std::string::npos);  // old checkpoints still resume
}

TEST_F(CompressionRecipe, ErrorsNameTheKeyLineAndColumn) {
  const std::string file = (tmp_ / "r.yaml").string();
  auto expect_error = [&](const std::string& from, const std::string& to, const std::string& where) {
    std::string text = recipe(kFull);
    const auto pos = text.find(from);
    ASSERT_NE(pos, std::string::npos) << from;
    text.replace(pos, from.size(), to);
    const std::string msg = error_of(text);
    EXPECT_EQ(msg.rfind(file + ":" + where, 0), 0u) << msg;
  };
  // Sparsity >= 1, end before start, unknown key, wrong type, bad choice.
  expect_error("target_sparsity: 0.8", "target_sparsity: 1.0", "17:24: key 'stages[0].prune.target_sparsity'");
  expect_error("end_step: 50", "end_step: 3", "15:17: key 'stages[0].prune.end_step': end_step 3 is not after");
  expect_error("momentum: 0.8", "momentun: 0.8", "22:7: key 'stages[0].prune.momentun': unknown key");
  expect_error("start_step: 5", "start_step: soon", "14:19: key 'stages[0].prune.start_step'");
  expect_error("criterion: snip_momentum", "criterion: random", "12:18: key 'stages[0].prune.criterion'");
  expect_error("block: [4, 1]", "block: [4]", "11:14: key 'stages[0].prune.block'");
  expect_error("max_layer_sparsity: 0.9", "max_layer_sparsity: 0.5", "19:27: key 'stages[0].prune.max_layer_sparsity'");
  expect_error("alpha: 0.7", "alpha: 1.5", "26:14: key 'stages[0].distill.alpha'");
  expect_error("teacher: teacher", "teacher: nowhere", "24:16: key 'stages[0].distill.teacher'");
  expect_error("precompute_logits: true", "precompute_logits: yes please", "28:26: key 'stages[0].distill.precompute_logits'");
  expect_error("mode: qat", "mode: int4", "30:13: key 'stages[0].quantize.mode'");
  // The tiny models have hidden states 0..2.
  expect_error("[[1, 1], [2, 2]]", "[[1, 1], [3, 2]]", "27:40: key 'stages[0].distill.hidden_mse.layer_map[1]'");
  // A pattern that matches no encoder linear of the model (its config.json has 2 layers).
  expect_error("\"bert.encoder.layer.1.output.dense\"", "\"bert.encoder.layer.7.*\"",
               "20:38: key 'stages[0].prune.layers[1]': layer pattern \"bert.encoder.layer.7.*\" matches no");
  expect_error("\"*.attention.self.*\"", "\"bert.embeddings.*\"", "20:16: key 'stages[0].prune.layers[0]'");
}

// ---------------------------------------------------------------- training

// Token-level F1 (x100) of the best span (start <= end, at most 8 tokens, both
// inside the context) against the gold span, averaged over windows.
double span_f1(const QaLogits& logits, const SquadFeatures& f) {
  auto start = logits.start.contiguous(), end = logits.end.contiguous();
  const int64_t n = f.num_windows(), s = start.size(1);
  double total = 0;
  for (int64_t w = 0; w < n; ++w) {
    double best = -1e30;
    int64_t bs = 0, be = 0;
    for (int64_t i = 0; i < s; ++i) {
      if (f.offsets[(w * f.max_seq + i) * 2] < 0) continue;
      for (int64_t j = i; j < std::min(s, i + 8); ++j) {
        if (f.offsets[(w * f.max_seq + j) * 2] < 0) break;
        const double v = start[w][i].item<double>() + end[w][j].item<double>();
        if (v > best) best = v, bs = i, be = j;
      }
    }
    const int64_t gs = f.start_positions[w], ge = f.end_positions[w];
    const int64_t overlap = std::max<int64_t>(0, std::min(be, ge) - std::max(bs, gs) + 1);
    if (overlap > 0) {
      const double p = static_cast<double>(overlap) / static_cast<double>(be - bs + 1);
      const double r = static_cast<double>(overlap) / static_cast<double>(ge - gs + 1);
      total += 2 * p * r / (p + r);
    }
  }
  return 100.0 * total / static_cast<double>(n);
}

double evaluate(BertForQuestionAnswering& model, const SquadFeatures& f, const LinearFn& linear = LinearFn()) {
  torch::NoGradGuard no_grad;
  model->eval();
  auto view = [&](const std::vector<int32_t>& v) {
    return torch::from_blob(const_cast<int32_t*>(v.data()), {f.num_windows(), f.max_seq}, torch::kInt32).to(torch::kLong);
  };
  return span_f1(traced_forward(model, view(f.input_ids), view(f.token_type_ids), view(f.attention_mask), linear, false).logits, f);
}

// One thread: these matrices are too small for threads to pay off.
std::string write_recipe(const TestDir& tmp, const std::string& name, const std::string& model,
                         const std::string& stages, int max_seq = 32) {
  const std::string text = "model: " + model + "\noutput: " + name + "\nthreads: 1\ndata:\n  train: train.h5\n"
                           "  max_seq: " + std::to_string(max_seq) + "\n  max_query: 4\nstages:\n" + stages;
  write_file_atomic(tmp / (name + ".yaml"), text);
  return name + ".yaml";
}

// The untrained tiny BERT every training recipe here starts from, written
// to tmp/init, and `windows` copy-span windows to train it on.
SquadFeatures tiny_init_and_task(const TestDir& tmp, int64_t windows, uint64_t seed) {
  SquadFeatures train = testing::copy_span_task(windows, seed);
  testing::write_config_only_checkpoint(tmp / "init", testing::tiny_config());
  return train;
}

TrainReport run(const TestDir& tmp, const std::string& recipe_file, const SquadFeatures& train, int64_t stop = 0) {
  TrainOptions o;
  o.log = false;
  o.stop_after_steps = stop;
  return train_recipe(Recipe::load(tmp / recipe_file), train, o);
}

const char* kTeacherStages = R"(  - name: finetune
    epochs: 16
    batch_size: 32
    learning_rate: 3.0e-3
    warmup: 0.1
    weight_decay: 0.0
    seed: 3
)";

const char* kStudentStages = R"(  - name: prune
    epochs: 10
    batch_size: 32
    learning_rate: 1.0e-3
    warmup: 0.05
    weight_decay: 0.0
    seed: 4
    prune:
      block: [4, 1]
      criterion: magnitude
      schedule: cubic
      end_step: 240
      target_sparsity: 0.8
      update_every_steps: 10
    distill:
      teacher: teacher/final
      temperature: 2
      alpha: 0.8
      precompute_logits: true
  - name: qat
    epochs: 2
    batch_size: 32
    learning_rate: 2.0e-4
    weight_decay: 0.0
    seed: 5
    distill:
      teacher: teacher/final
      temperature: 2
      alpha: 0.8
    quantize:
      mode: qat
      calibration: minmax
      calibration_batches: 8
)";

TEST(CompressionTraining, TinyModelPrunedTo80PercentWithDistillationKeepsF1WithinThreePointsOfTeacher) {
  TestDir tmp;
  const auto t0 = std::chrono::steady_clock::now();
  // Short windows without dropout: the task is learned in a few hundred steps.
  const SquadFeatures train = testing::copy_span_task(1024, 11, 32, 16, 10);
  const SquadFeatures dev = testing::copy_span_task(300, 12, 32, 16, 10);
  BertConfig config = testing::tiny_config(32, 16);
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0;
  testing::write_config_only_checkpoint(tmp / "init", config);
  ASSERT_TRUE(run(tmp, write_recipe(tmp, "teacher", "init", kTeacherStages, 16), train).finished);
  auto teacher = load_bert_qa(tmp / "teacher/final");
  const double teacher_f1 = evaluate(teacher, dev);
  std::printf("teacher F1 %.2f after %.1f s\n", teacher_f1,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  ASSERT_TRUE(run(tmp, write_recipe(tmp, "student", "teacher/final", kStudentStages, 16), train).finished);
  const fs::path final_dir = tmp / "student/final";
  auto student = load_bert_qa(final_dir);
  // The final checkpoint holds exactly 80 % zero 4x1 blocks in every encoder linear.
  const SafetensorsFile masks = read_safetensors(final_dir / "masks.safetensors");
  EXPECT_EQ(masks.metadata.at("block_rows"), "4");
  int64_t blocks = 0, kept = 0;
  for (const auto& name : encoder_linear_names(student)) {
    auto w = find_linear(student, name)->weight.detach();
    auto zeros = w.eq(0).reshape({w.size(0) / 4, 4, w.size(1)}).sum(1);
    EXPECT_TRUE(torch::logical_or(zeros.eq(0), zeros.eq(4)).all().item<bool>()) << name;
    blocks += zeros.numel();
    kept += zeros.eq(0).sum().item<int64_t>();
  }
  EXPECT_EQ(blocks - kept, static_cast<int64_t>(std::llround(0.8 * static_cast<double>(blocks))));
  const double sparse_f1 = evaluate(student, dev);
  const Quantization q = Quantization::load(final_dir / "quantization.json");
  const double int8_f1 = evaluate(student, dev, q.fake_quant_linear());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("teacher F1 %.2f, 80%% 4x1 sparse (after QAT, fp32) F1 %.2f, fake-int8 F1 %.2f, %.1f s\n", teacher_f1,
              sparse_f1, int8_f1, seconds);
  EXPECT_GT(teacher_f1, 80.0);  // the task was learned, so the comparison means something
  EXPECT_GE(sparse_f1, teacher_f1 - 3.0);
  EXPECT_GE(int8_f1, teacher_f1 - 3.0);
}

TEST(CompressionTraining, ResumedPruneAndQatRunEqualsTheUninterruptedRun) {
  TestDir tmp;
  const SquadFeatures train = tiny_init_and_task(tmp, 160, 21);
  const std::string stages = R"(  - name: prune
    epochs: 2
    batch_size: 16
    learning_rate: 1.0e-3
    seed: 4
    prune:
      criterion: snip_momentum
      end_step: 15
      target_sparsity: 0.75
      update_every_steps: 2
  - name: qat
    epochs: 1
    batch_size: 16
    learning_rate: 1.0e-4
    quantize:
      mode: qat
      calibration_batches: 2
      start_step: 3
)";
  const auto a = run(tmp, write_recipe(tmp, "a", "init", stages), train);
  ASSERT_TRUE(a.finished);
  const std::string b_recipe = write_recipe(tmp, "b", "init", stages);
  EXPECT_FALSE(run(tmp, b_recipe, train, 13).finished);
  EXPECT_TRUE(fs::exists(tmp / "b/checkpoint-last/masks.safetensors"));
  EXPECT_FALSE(run(tmp, b_recipe, train, 12).finished);  // stops inside QAT (after its calibration)
  EXPECT_TRUE(fs::exists(tmp / "b/checkpoint-last/quantization.json"));
  const auto b = run(tmp, b_recipe, train);
  ASSERT_TRUE(b.finished);
  ASSERT_EQ(a.stages.size(), b.stages.size());
  for (std::size_t s = 0; s < a.stages.size(); ++s) EXPECT_EQ(a.stages[s].losses, b.stages[s].losses) << s;
  EXPECT_EQ(read_file(tmp / "a/final/masks.safetensors"), read_file(tmp / "b/final/masks.safetensors"));
  EXPECT_EQ(read_file(tmp / "a/final/quantization.json"), read_file(tmp / "b/final/quantization.json"));
  EXPECT_EQ(read_file(tmp / "a/final/model.safetensors"), read_file(tmp / "b/final/model.safetensors"));
}

TEST(CompressionTraining, PtqStageOnlyCalibratesAndKeepsTheMasks) {
  TestDir tmp;
  const SquadFeatures train = tiny_init_and_task(tmp, 64, 31);
  const std::string stages = R"(  - name: prune
    epochs: 1
    batch_size: 16
    prune:
      target_sparsity: 0.5
      scope: per_layer
  - name: ptq
    batch_size: 16
    quantize:
      mode: ptq
      calibration: percentile
      percentile: 99.9
      calibration_batches: 3
)";
  const auto r = run(tmp, write_recipe(tmp, "p", "init", stages), train);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.stages[1].total_steps, 0);
  const Quantization q = Quantization::load(tmp / "p/final/quantization.json");
  EXPECT_EQ(q.calibrated_batches, 3);
  EXPECT_EQ(q.layers.size(), 13u);
  EXPECT_EQ(q.settings.calibration, CalibrationMethod::Percentile);
  auto model = load_bert_qa(tmp / "p/final");
  auto w = find_linear(model, "bert.encoder.layer.1.intermediate.dense")->weight;
  EXPECT_NEAR(w.eq(0).to(torch::kDouble).mean().item<double>(), 0.5, 1e-9);
}

TEST(CompressionTraining, RecipeStartingFromAPrunedCheckpointKeepsItsMasksThroughFinetuneAndQat) {
  TestDir tmp;
  const SquadFeatures train = tiny_init_and_task(tmp, 64, 41);
  ASSERT_TRUE(run(tmp, write_recipe(tmp, "pruned", "init", R"(  - name: prune
    epochs: 1
    batch_size: 16
    prune: {target_sparsity: 0.5, scope: per_layer}
)"), train).finished);
  // A later recipe (as `fastbert quantize --recipe` on a pruned model) with a
  // plain fine-tuning stage at a high rate, which would refill the pruned
  // weights, then QAT.
  ASSERT_TRUE(run(tmp, write_recipe(tmp, "next", "pruned/final", R"(  - name: finetune
    epochs: 2
    batch_size: 16
    learning_rate: 1.0e-2
  - name: qat
    epochs: 1
    batch_size: 16
    quantize: {mode: qat, calibration_batches: 2}
)"), train).finished);
  EXPECT_EQ(read_file(tmp / "pruned/final/masks.safetensors"), read_file(tmp / "next/final/masks.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "next/final/quantization.json"));
  auto before = load_bert_qa(tmp / "pruned/final");
  auto after = load_bert_qa(tmp / "next/final");
  for (const auto& name : encoder_linear_names(after)) {
    const auto zeros_before = find_linear(before, name)->weight.eq(0);
    const auto w = find_linear(after, name)->weight;
    EXPECT_TRUE(w.masked_select(zeros_before).eq(0).all().item<bool>()) << name;
    EXPECT_FALSE(torch::equal(w, find_linear(before, name)->weight)) << name << " was not trained";
  }
}

TEST(CompressionTraining, StartingModelWithACorruptOrEmptyMaskFileIsRefusedNamingTheFile) {
  TestDir tmp;
  const SquadFeatures train = tiny_init_and_task(tmp, 32, 61);
  const std::string recipe = write_recipe(tmp, "next", "init", "  - name: finetune\n    batch_size: 16\n");
  const std::string file = (tmp / "init/masks.safetensors").string();
  auto error_of_run = [&] {
    try {
      run(tmp, recipe, train);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  write_file_atomic(file, "not a safetensors file");
  std::string msg = error_of_run();
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  SafetensorsFile no_masks;
  no_masks.metadata = {{"block_rows", "4"}, {"block_cols", "1"}};
  write_safetensors(file, no_masks);
  msg = error_of_run();
  EXPECT_NE(msg.find(file + ": no '<layer>.weight.mask' tensor"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp / "next/final"));
}

TEST(CompressionTraining, Bf16StageRoundsTheMatmulsButKeepsLossesCloseAndMasksExact) {
  TestDir tmp;
  const SquadFeatures train = tiny_init_and_task(tmp, 64, 51);
  const std::string stages = R"(  - name: prune
    epochs: 2
    batch_size: 16
    learning_rate: 1.0e-3
    seed: 4
    precision: PRECISION
    prune: {target_sparsity: 0.5, end_step: 4, update_every_steps: 2}
    distill:
      teacher: init
      hidden_mse: {layer_map: [[1, 1], [2, 2]], weight: 1.0}
  - name: qat
    epochs: 1
    batch_size: 16
    precision: PRECISION
    quantize: {mode: qat, calibration_batches: 2}
)";
  auto with = [&](const std::string& precision) {
    std::string s = stages;
    for (auto pos = s.find("PRECISION"); pos != std::string::npos; pos = s.find("PRECISION"))
      s.replace(pos, 9, precision);
    return s;
  };
  const auto fp32 = run(tmp, write_recipe(tmp, "fp32", "init", with("fp32")), train);
  const auto bf16 = run(tmp, write_recipe(tmp, "bf16", "init", with("bf16")), train);
  ASSERT_TRUE(fp32.finished && bf16.finished);
  for (std::size_t s = 0; s < 2; ++s) {
    ASSERT_EQ(fp32.stages[s].losses.size(), bf16.stages[s].losses.size());
    for (std::size_t i = 0; i < fp32.stages[s].losses.size(); ++i) {
      const double a = fp32.stages[s].losses[i], b = bf16.stages[s].losses[i];
      EXPECT_NEAR(b, a, 0.03 * std::abs(a) + 1e-3) << "stage " << s << " step " << i;
      if (s == 0 && i == 0) {
        EXPECT_NE(a, b) << "the first step's matmuls ran in fp32 under bf16";
      }
    }
  }
  auto model = load_bert_qa(tmp / "bf16/final");
  EXPECT_EQ(model->qa_outputs->weight.scalar_type(), torch::kFloat32);  // the checkpoint stays fp32
  auto w = find_linear(model, "bert.encoder.layer.0.intermediate.dense")->weight.detach();
  auto zeros = w.eq(0).reshape({w.size(0) / 4, 4, w.size(1)}).sum(1);
  EXPECT_TRUE(torch::logical_or(zeros.eq(0), zeros.eq(4)).all().item<bool>());
  EXPECT_NEAR(zeros.eq(4).to(torch::kDouble).mean().item<double>(), 0.5, 0.1);
}

TEST_F(CompressionRecipe, StageKindCommandKeepsOnlyThoseStagesInItsOwnOutput) {
  const Recipe r = Recipe::parse(recipe("    prune: {target_sparsity: 0.5}\n  - name: q\n    quantize: {mode: ptq}\n"),
                                 tmp_ / "r.yaml");
  const Recipe q = stages_of_kind(r, "quantize");
  ASSERT_EQ(q.stages.size(), 1u);
  EXPECT_EQ(q.stages[0].name, "q");
  EXPECT_EQ(q.output, tmp_ / "out" / "quantize");
  EXPECT_EQ(stages_of_kind(r, "prune").stages[0].name, "s");
  EXPECT_THROW(stages_of_kind(r, "distill"), Error);
}

TEST(CompressionTraining, StepsBeyondTheStageAreRefusedBeforeTraining) {
  TestDir tmp;
  const SquadFeatures train = tiny_init_and_task(tmp, 64, 41);
  // 64 windows / 16 = 4 steps: end_step 10 is never reached.
  const std::string stages = "  - name: p\n    batch_size: 16\n    prune: {end_step: 10}\n";
  try {
    run(tmp, write_recipe(tmp, "late", "init", stages), train);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prune.end_step is 10"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "late/checkpoint-last"));
}

// Zero 4x1 blocks over every encoder linear of a checkpoint, and all blocks.
std::pair<int64_t, int64_t> zero_blocks(const fs::path& dir) {
  auto model = load_bert_qa(dir);
  int64_t zero = 0, all = 0;
  for (const auto& name : encoder_linear_names(model)) {
    auto w = find_linear(model, name)->weight.detach();
    auto zeros = w.eq(0).reshape({w.size(0) / 4, 4, w.size(1)}).all(1);
    zero += zeros.sum().item<int64_t>();
    all += zeros.numel();
  }
  return {zero, all};
}

TEST(CompressionTraining, ProgressiveRecipeWritesOneSnapshotPerLevelWithExactlyThatSparsity) {
  TestDir tmp;
  const SquadFeatures train = tiny_init_and_task(tmp, 64, 51);
  std::string stages;
  const std::vector<std::pair<std::string, double>> levels = {{"s50", 0.5}, {"s75", 0.75}, {"s90", 0.9}};
  double previous = 0;
  for (const auto& [name, level] : levels) {
    stages += "  - name: prune_" + name + "\n    batch_size: 16\n    epochs: 2\n    learning_rate: 1.0e-3\n"
              "    prune: {initial_sparsity: " + std::to_string(previous) + ", target_sparsity: " +
              std::to_string(level) + ", end_step: 4, update_every_steps: 1}\n"
              "  - name: " + name + "\n    batch_size: 16\n    learning_rate: 1.0e-3\n    snapshot: true\n";
    previous = level;
  }
  ASSERT_TRUE(run(tmp, write_recipe(tmp, "p", "init", stages), train).finished);
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(tmp / "p/snapshots")) found.push_back(e.path().filename().string());
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<std::string>{"s50", "s75", "s90"}));  // none for the prune stages
  for (const auto& [name, level] : levels) {
    const fs::path dir = tmp / "p/snapshots" / name;
    ASSERT_TRUE(fs::exists(dir / "masks.safetensors")) << name;
    const auto [zero, all] = zero_blocks(dir);
    EXPECT_EQ(zero, static_cast<int64_t>(std::llround(level * static_cast<double>(all)))) << name;
  }
  // The last level is the final model.
  EXPECT_EQ(read_file(tmp / "p/snapshots/s90/model.safetensors"), read_file(tmp / "p/final/model.safetensors"));
}

TEST_F(CompressionRecipe, SnapshotIsABooleanAndLeavesTheResumeKeyAlone) {
  const Recipe plain = Recipe::parse(recipe(""), tmp_ / "r.yaml");
  const Recipe kept = Recipe::parse(recipe("    snapshot: true\n"), tmp_ / "r.yaml");
  EXPECT_FALSE(plain.stages[0].snapshot);
  EXPECT_TRUE(kept.stages[0].snapshot);
  EXPECT_EQ(plain.resume_key(0), kept.resume_key(0));
  try {
    Recipe::parse(recipe("    snapshot: yes please\n"), tmp_ / "r.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("snapshot': expected true or false"), std::string::npos) << e.what();
  }
}

// The recipes in recipes/ parse and validate once the checkpoints they name
// exist (here: config-only stand-ins at the same relative places).
TEST(CompressionRecipes, ShippedRecipesAreValid) {
  TestDir tmp;
  const fs::path src = fs::path(FASTBERT_SOURCE_DIR) / "recipes";
  fs::create_directories(tmp / "recipes/examples");
  // Layer counts and position tables as the recipes' models (hidden-state
  // maps and data.max_seq are checked against them).
  for (const auto& [dir, layers, positions] :
       std::vector<std::tuple<std::string, int64_t, int64_t>>{{"out/demo/run/final", 2, 256},
                                                              {"out/minilm/run/final", 6, 512},
                                                              {"out/minilm/full/final", 6, 512},
                                                              {"models/bert-base-uncased-squad", 12, 512},
                                                              {"models/bert-6l-768h", 6, 512}}) {
    BertConfig c = testing::tiny_config();
    c.num_hidden_layers = layers;
    c.max_position_embeddings = positions;
    testing::write_config_only_checkpoint(tmp / dir, c);
  }
  const std::vector<std::string> files = {"tiny-frontier.yaml", "minilm-squad-frontier.yaml",
                                          "examples/bert-base-squad-sparse90-int8.yaml",
                                          "examples/distilbert-squad-sparse80.yaml"};
  for (const auto& f : files) {
    ASSERT_TRUE(fs::exists(src / f)) << f;
    fs::copy_file(src / f, tmp / "recipes" / f);
    try {
      const Recipe r = Recipe::load(tmp / "recipes" / f);
      EXPECT_TRUE(r.stages.front().prune.enabled) << f;
      EXPECT_EQ(r.stages.front().prune.block_rows, 4) << f;
      EXPECT_EQ(r.stages.front().prune.block_cols, 1) << f;
      EXPECT_TRUE(r.stages.back().quantize.enabled) << f;
    } catch (const Error& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

}  // namespace
}  // namespace fastbert
