#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "fastbert/formats/squad_features.h"
#include "fastbert/train/batch.h"

namespace fastbert {

// The windows a training run reads, batch by batch: from a features file
// (only the batch's windows are read: the file is chunked by 256 windows, so
// the full SQuAD training set's 500 MB never sit in memory) or from features
// already in memory (tests, small commands), borrowed, without a copy. Both
// give the same windows for the same rows. Not thread-safe.
class TrainingWindows {
 public:
  // `features` must outlive this; its shape is checked (check_features_shape).
  explicit TrainingWindows(const SquadFeatures& features);
  explicit TrainingWindows(SquadFeaturesReader file);

  int64_t num_windows() const;
  int64_t max_seq() const;
  int64_t num_examples() const;
  bool has_teacher_logits() const;
  // Attention-mask sum of each window.
  const std::vector<int32_t>& real_tokens() const { return real_tokens_; }
  // The windows `rows`, in that order, as a batch on `device` (make_batch);
  // from a file only these windows are read.
  Batch batch(const std::vector<int64_t>& rows, torch::Device device = torch::kCPU) const;

 private:
  const SquadFeatures* memory_ = nullptr;
  std::optional<SquadFeaturesReader> file_;
  std::vector<int32_t> real_tokens_;
};

}  // namespace fastbert
