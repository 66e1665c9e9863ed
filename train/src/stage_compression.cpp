#include "fastbert/train/stage_compression.h"

#include <cstdio>
#include <string_view>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/distill/distillation_loss.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/model/traced_forward.h"
#include "fastbert/train/autocast_scope.h"
#include "fastbert/train/predict.h"
#include "fastbert/train/stage_plan.h"
#include "fastbert/train/trainer.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {
constexpr const char* kMaskFile = "masks.safetensors";
constexpr const char* kQuantFile = "quantization.json";
constexpr const char* kReportFile = "compression_report.json";

// Step numbers that the stage never reaches would silently leave the model
// dense or unquantized: refused before any training.
void check_steps(const Recipe& recipe, int64_t windows) {
  for (std::size_t i = 0; i < recipe.stages.size(); ++i) {
    const StageSettings& s = recipe.stages[i];
    const int64_t steps = plan_stage(s, windows).total_steps;
    const std::string where = recipe.source.string() + ": stages[" + std::to_string(i) + "] (" + s.name + ") has " +
                              std::to_string(steps) + " optimizer steps on " + std::to_string(windows) + " windows, ";
    if (s.prune.enabled && s.prune.end_step > steps)
      throw Error(where + "but prune.end_step is " + std::to_string(s.prune.end_step) +
                  ": the target sparsity would never be reached");
    if (s.prune.enabled && s.prune.start_step >= std::max<int64_t>(1, s.prune.end_step > 0 ? s.prune.end_step : steps))
      throw Error(where + "but prune.start_step is " + std::to_string(s.prune.start_step) +
                  ": pruning would never start before the stage ends");
    if (s.quantize.enabled && s.quantize.mode == QuantMode::Qat && s.quantize.start_step >= steps)
      throw Error(where + "but quantize.start_step is " + std::to_string(s.quantize.start_step) +
                  ": fake quantization would never start");
  }
}
}  // namespace

StageCompression::StageCompression(const Recipe& recipe, BertForQuestionAnswering model,
                                   const TrainingWindows& windows, const fs::path& resume_dir)
    : recipe_(recipe), model_(std::move(model)), windows_(windows), resume_dir_(resume_dir) {
  check_steps(recipe_, windows_.num_windows());
  if (!resume_dir_.empty() && fs::exists(resume_dir_ / kQuantFile))
    quantization_ = Quantization::load(resume_dir_ / kQuantFile);
  // The masks the model was saved with (a resumed run's, or those of a pruned
  // checkpoint that the recipe starts from) keep applying in every stage.
  const fs::path masks = (resume_dir_.empty() ? recipe_.model : resume_dir_) / kMaskFile;
  if (fs::exists(masks)) {
    pruner_ = pruner_of_mask_file(model_, masks);
    pruner_frozen_ = true;
  }
}

StageCompression::~StageCompression() = default;

bool StageCompression::plain() const {
  const auto& st = recipe_.stages.at(stage_);
  return !pruner_ && !st.distill.enabled && !fake_quant_ && !st.quantize.enabled;
}

void StageCompression::begin_stage(std::size_t s, int64_t total_steps, int64_t steps_done, bool log) {
  stage_ = s;
  const StageSettings& st = recipe_.stages.at(s);
  const fs::path resume_masks = resume_dir_.empty() ? fs::path() : resume_dir_ / kMaskFile;
  if (st.prune.enabled) {
    auto previous = std::move(pruner_);
    pruner_ = std::make_unique<BlockPruner>(model_, st.prune, total_steps);
    pruner_frozen_ = false;
    if (steps_done > 0 && fs::exists(resume_masks)) {
      pruner_->load(resume_masks);
    } else if (previous) {
      // Pruned blocks of an earlier prune stage (or of the starting model) stay pruned.
      for (const auto& name : pruner_->layers())
        for (const auto& old : previous->layers())
          if (old == name) pruner_->set_block_mask(name, previous->block_mask(name));
      pruner_->apply_masks();
    }
  } else {
    pruner_frozen_ = true;
  }
  resume_dir_.clear();  // only the first stage run by this process resumes

  if (st.distill.enabled) {
    if (!teacher_ || teacher_dir_ != st.distill.teacher) {
      teacher_ = load_bert_qa(st.distill.teacher);
      teacher_->to(model_->device());
      teacher_dir_ = st.distill.teacher;
      teacher_start_.clear();
      teacher_end_.clear();
    }
    teacher_->eval();
    const int64_t n = windows_.num_windows();
    teacher_logits_in_batches_ = st.distill.precompute_logits && windows_.has_teacher_logits();
    if (!st.distill.precompute_logits || teacher_logits_in_batches_) {
      // Teacher forward pass at every step, or its logits read with each batch.
    } else if (teacher_start_.empty()) {
      if (log) std::fprintf(stderr, "stage %s: precomputing teacher logits for %lld windows\n", st.name.c_str(),
                            static_cast<long long>(n));
      const SquadLogits l = predict_logits(teacher_, windows_, std::max<int64_t>(st.batch_size, 32));
      teacher_start_ = l.start_logits;
      teacher_end_ = l.end_logits;
    }
  }
  fake_quant_ = false;
  if (st.quantize.enabled && st.quantize.mode == QuantMode::Qat && quantization_ && steps_done > 0 &&
      steps_done > st.quantize.start_step)
    fake_quant_ = true;  // resumed inside QAT: the saved activation ranges continue
}

void StageCompression::calibrate(int64_t batches, int64_t batch_size, uint64_t seed) {
  const StageSettings& st = recipe_.stages.at(stage_);
  ActivationObserver observer(st.quantize.calibration, st.quantize.percentile);
  LinearFn observe = [&observer](const std::string& name, torch::nn::LinearImpl& linear, const torch::Tensor& x) {
    observer.observe(name, x);
    return torch::nn::functional::linear(x, linear.weight, linear.bias);
  };
  const bool was_training = model_->is_training();
  model_->eval();
  torch::NoGradGuard no_grad;
  // The ranges of fp32 activations, as the runtime quantizes them, also in a bf16 stage.
  const AutocastScope fp32(false, model_->device().type());
  const int64_t n = windows_.num_windows();
  const auto order = epoch_order(n, seed, 0);
  for (int64_t b = 0; b < batches && b * batch_size < n; ++b) {
    const std::vector<int64_t> rows(order.begin() + b * batch_size,
                                    order.begin() + std::min(n, (b + 1) * batch_size));
    const Batch batch = windows_.batch(rows, model_->device());
    traced_forward(model_, batch.input_ids, batch.token_type_ids, batch.attention_mask, observe, false);
  }
  if (was_training) model_->train();
  Quantization q;
  q.settings = st.quantize;
  q.set_activations(observer);
  q.set_weight_scales(model_);
  quantization_ = std::move(q);
}

torch::Tensor StageCompression::teacher_rows(const std::vector<float>& logits, const std::vector<int64_t>& rows,
                                             int64_t length) const {
  const int64_t s = windows_.max_seq();
  auto out = torch::empty({static_cast<int64_t>(rows.size()), length}, torch::kFloat32);
  auto* dst = out.data_ptr<float>();
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy_n(logits.data() + rows[i] * s, length, dst + static_cast<int64_t>(i) * length);
  return out.to(model_->device());
}

void StageCompression::begin_step(int64_t step) {
  const StageSettings& st = recipe_.stages.at(stage_);
  if (st.quantize.enabled && st.quantize.mode == QuantMode::Qat && !fake_quant_ && step >= st.quantize.start_step) {
    calibrate(st.quantize.calibration_batches, st.batch_size, st.seed);
    fake_quant_ = true;
  }
}

uint64_t StageCompression::digest() const {
  // Not cryptographic: it only has to tell apart states that diverged.
  uint64_t h = 0x66617374626572ULL;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL; };
  if (pruner_)
    for (const auto& name : pruner_->layers()) {
      const torch::Tensor m = pruner_->block_mask(name).to(torch::kUInt8).contiguous().cpu();
      mix(std::hash<std::string>{}(name));
      mix(std::hash<std::string_view>{}(
          std::string_view(static_cast<const char*>(m.data_ptr()), static_cast<std::size_t>(m.nbytes()))));
    }
  if (quantization_) {
    mix(static_cast<uint64_t>(quantization_->calibrated_batches));
    for (const auto& [name, layer] : quantization_->layers) {
      mix(std::hash<std::string>{}(name));
      mix(std::hash<double>{}(layer.input_min));
      mix(std::hash<double>{}(layer.input_max));
      for (float w : layer.weight_scales) mix(std::hash<float>{}(w));
    }
  }
  mix(fake_quant_);
  return h;
}

torch::Tensor StageCompression::loss(const Batch& batch, const std::vector<int64_t>& rows) {
  const StageSettings& st = recipe_.stages.at(stage_);
  const LinearFn linear = fake_quant_ ? quantization_->fake_quant_linear() : LinearFn();
  const auto& d = st.distill;
  const bool hidden = d.enabled && d.hidden_weight > 0 && !d.layer_map.empty();
  ForwardTrace student =
      traced_forward(model_, batch.input_ids, batch.token_type_ids, batch.attention_mask, linear, hidden);
  auto hard = qa_loss(student.logits, batch.attention_mask, batch.start_positions, batch.end_positions);
  if (!d.enabled) return hard;

  ForwardTrace teacher;
  {
    torch::NoGradGuard no_grad;
    if (!hidden && teacher_logits_in_batches_) {
      teacher.logits = {batch.teacher_start_logits, batch.teacher_end_logits};
    } else if (!hidden && !teacher_start_.empty()) {
      teacher.logits = {teacher_rows(teacher_start_, rows, batch.length), teacher_rows(teacher_end_, rows, batch.length)};
    } else {
      teacher = traced_forward(teacher_, batch.input_ids, batch.token_type_ids, batch.attention_mask, LinearFn(), hidden);
    }
  }
  auto loss = d.alpha * distillation_kl(student.logits, teacher.logits, batch.attention_mask, d.temperature) +
              (1.0 - d.alpha) * hard;
  if (hidden)
    loss = loss + d.hidden_weight * hidden_state_mse(student.hidden, teacher.hidden, d.layer_map, batch.attention_mask);
  return loss;
}

void StageCompression::before_optimizer_step() {
  if (pruner_ && !pruner_frozen_) pruner_->observe_gradients();
}

void StageCompression::after_optimizer_step(int64_t steps_done) {
  if (!pruner_) return;
  if (pruner_frozen_) pruner_->apply_masks();
  else pruner_->after_optimizer_step(steps_done);
}

void StageCompression::end_stage(bool log) {
  const StageSettings& st = recipe_.stages.at(stage_);
  if (st.quantize.enabled && (st.quantize.mode == QuantMode::Ptq || !quantization_))
    calibrate(st.quantize.calibration_batches, st.batch_size, st.seed);
  if (quantization_) quantization_->set_weight_scales(model_);
  if (log && pruner_ && !pruner_frozen_) {
    std::fprintf(stderr, "stage %s: block sparsity %.4f over %zu layers\n", st.name.c_str(),
                 pruner_->overall_sparsity(), pruner_->layers().size());
    for (const auto& l : pruner_->report())
      std::fprintf(stderr, "  %-52s %.4f (%lld of %lld blocks)\n", l.name.c_str(), l.sparsity(),
                   static_cast<long long>(l.pruned_blocks), static_cast<long long>(l.blocks));
  }
}

void StageCompression::write_files(const fs::path& dir) {
  nlohmann::json report = nlohmann::json::object();
  if (pruner_) {
    pruner_->save(dir / kMaskFile);
    report["block"] = {pruner_->block().rows, pruner_->block().cols};
    report["sparsity"] = pruner_->overall_sparsity();
    nlohmann::json layers = nlohmann::json::object();
    for (const auto& l : pruner_->report())
      layers[l.name] = {{"sparsity", l.sparsity()}, {"blocks", l.blocks}, {"pruned_blocks", l.pruned_blocks}};
    report["layers"] = layers;
  }
  if (quantization_) {
    quantization_->set_weight_scales(model_);
    quantization_->save(dir / kQuantFile);
    report["quantization"] = fake_quant_ ? "qat (fake quantization active)" : "calibrated";
  }
  if (!report.empty()) write_file_atomic(dir / kReportFile, report.dump(1) + "\n");
}

}  // namespace fastbert
