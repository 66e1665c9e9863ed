#pragma once
#include <filesystem>
#include <string>

#include "fastbert/train/trainer.h"

namespace fastbert {

// The stages of `recipe` that have a `kind:` section ("prune", "distill" or
// "quantize"), as a recipe of their own whose output is OUTPUT/<kind>, so that
// running one kind never collides with the checkpoint of the whole recipe.
// Throws fastbert::Error naming the recipe when it has no such stage.
Recipe stages_of_kind(const Recipe& recipe, const std::string& kind);

// `fastbert-train prune|distill|quantize --recipe R.yaml`.
TrainReport run_stage_kind_command(const std::filesystem::path& recipe_path, const std::string& kind,
                                   const TrainOptions& options);

// `fastbert-train teacher-logits`: stores a teacher's start/end logits in a
// features file (rewritten atomically), so that every distillation stage with
// `precompute_logits: true` on that file skips the teacher pass.
void run_teacher_logits_command(const std::filesystem::path& teacher, const std::filesystem::path& features,
                                int64_t batch_size, int threads);

// `fastbert-train predict --int8`: logits with every linear fake-quantized as
// the checkpoint's quantization.json says (the int8 numerics of the runtime,
// computed in fp32), for measuring the F1 of the int8 model.
void run_predict_int8_command(const std::filesystem::path& checkpoint, const std::filesystem::path& features,
                              const std::filesystem::path& out, int64_t batch_size, int threads);

}  // namespace fastbert
