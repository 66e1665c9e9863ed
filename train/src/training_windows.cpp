#include "fastbert/train/training_windows.h"

#include <numeric>

#include "fastbert/common/error.h"
#include "fastbert/train/batch.h"

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
  if (file_) return file_->has_teacher_logits();
  const auto cells = static_cast<std::size_t>(memory_->num_windows() * memory_->max_seq);
  return cells > 0 && memory_->teacher_start_logits.size() == cells && memory_->teacher_end_logits.size() == cells;
}

SquadFeatures TrainingWindows::read(const std::vector<int64_t>& rows) const {
  if (file_) return file_->read(rows);
  const SquadFeatures& f = *memory_;
  const int64_t s = f.max_seq, n = f.num_windows();
  const bool teacher = has_teacher_logits();
  SquadFeatures b;
  b.max_seq = s;
  b.doc_stride = f.doc_stride;
  b.max_query = f.max_query;
  b.tokenizer = f.tokenizer;
  auto rows_of = [&](const auto& all, auto& out) {
    for (int64_t r : rows) out.insert(out.end(), all.begin() + r * s, all.begin() + (r + 1) * s);
  };
  for (int64_t r : rows)
    if (r < 0 || r >= n) throw Error("window " + std::to_string(r) + " is outside the " + std::to_string(n) + " windows");
  rows_of(f.input_ids, b.input_ids);
  rows_of(f.token_type_ids, b.token_type_ids);
  rows_of(f.attention_mask, b.attention_mask);
  if (teacher) {
    rows_of(f.teacher_start_logits, b.teacher_start_logits);
    rows_of(f.teacher_end_logits, b.teacher_end_logits);
  }
  for (int64_t r : rows) {
    b.start_positions.push_back(f.start_positions[r]);
    b.end_positions.push_back(f.end_positions[r]);
  }
  return b;
}

}  // namespace fastbert
