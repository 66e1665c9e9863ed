#include "fastbert/train/training_windows.h"

#include <numeric>

#include "fastbert/common/error.h"

namespace fastbert {

TrainingWindows::TrainingWindows(const SquadFeatures& features) : memory_(&features) {
  check_features_shape(features);
  const int64_t s = features.max_seq;
  real_tokens_.resize(static_cast<std::size_t>(features.num_windows()));
  for (std::size_t w = 0; w < real_tokens_.size(); ++w) {
    const int32_t* mask = features.attention_mask.data() + static_cast<int64_t>(w) * s;
    real_tokens_[w] = std::accumulate(mask, mask + s, 0);
  }
}

TrainingWindows::TrainingWindows(SquadFeaturesReader file) : file_(std::move(file)), real_tokens_(file_->real_tokens()) {}

int64_t TrainingWindows::num_windows() const { return file_ ? file_->num_windows() : memory_->num_windows(); }
int64_t TrainingWindows::max_seq() const { return file_ ? file_->max_seq() : memory_->max_seq; }
int64_t TrainingWindows::num_examples() const {
  return file_ ? file_->num_examples() : static_cast<int64_t>(memory_->example_ids.size());
}
bool TrainingWindows::has_teacher_logits() const {
  return file_ ? file_->has_teacher_logits() : memory_->has_teacher_logits();
}

Batch TrainingWindows::batch(const std::vector<int64_t>& rows, torch::Device device) const {
  if (!file_) {
    const int64_t n = memory_->num_windows();
    for (int64_t r : rows)
      if (r < 0 || r >= n)
        throw Error("window " + std::to_string(r) + " is outside the " + std::to_string(n) + " windows");
    return make_batch(*memory_, rows, device);
  }
  std::vector<int64_t> in_block(rows.size());
  std::iota(in_block.begin(), in_block.end(), int64_t{0});
  return make_batch(file_->read(rows), in_block, device);
}

}  // namespace fastbert
