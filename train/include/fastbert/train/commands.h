#pragma once
#include <filesystem>
#include <memory>

#include "fastbert/train/trainer.h"

namespace fastbert {

// `fastbert-train train RECIPE.yaml`: loads the recipe, gets its training
// features (data.train as a features .h5, or SQuAD .json prepared once by
// `fastbert prepare` into OUTPUT/features-train-*.h5), trains or resumes, and
// writes OUTPUT/train_report.json.
TrainReport run_train_command(const std::filesystem::path& recipe_path, const TrainOptions& options);

// This process's rank of a data-parallel run when RANK, WORLD_SIZE, ... are
// set (rendezvous and process group made here, with the recipe's
// distributed settings and --backend); null otherwise.
std::unique_ptr<RankGroup> join_ranks_from_environment(const Recipe& recipe, const TrainOptions& options);

// training_features_path, prepared by rank 0 only while the other ranks wait
// (they read the file it wrote: ranks share the OUTPUT directory).
std::filesystem::path training_features_path(const Recipe& recipe, RankGroup* ranks);

// `fastbert-train predict`: logits of a checkpoint for every window of a
// features file, written as a fastbert-logits HDF5 file.
void run_predict_command(const std::filesystem::path& checkpoint, const std::filesystem::path& features,
                         const std::filesystem::path& out, int64_t batch_size, int threads);

// The features file a recipe trains on; runs `fastbert prepare` when data.train
// is SQuAD JSON and the prepared file does not exist yet. The `fastbert`
// executable is looked for beside the running one; FASTBERT_BIN overrides.
std::filesystem::path training_features_path(const Recipe& recipe);

// Reads a features file for the model whose config.json is given, refusing
// token ids, token types or windows that model cannot take (LibTorch would
// only say "index out of range in self").
SquadFeatures read_features_for_model(const std::filesystem::path& features,
                                      const std::filesystem::path& config_json);
// The same checks, for training: the file is read a batch at a time, not held.
TrainingWindows open_windows_for_model(const std::filesystem::path& features,
                                       const std::filesystem::path& config_json);

}  // namespace fastbert
