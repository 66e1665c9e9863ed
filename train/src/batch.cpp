#include "fastbert/train/batch.h"

#include <algorithm>

#include "fastbert/common/error.h"

namespace fastbert {

void check_features_shape(const SquadFeatures& f) {
  const int64_t n = f.num_windows(), s = f.max_seq;
  if (s <= 0) throw Error("features: max_seq must be positive");
  auto check = [&](const char* name, std::size_t size, int64_t want) {
    if (static_cast<int64_t>(size) != want)
      throw Error(std::string("features: ") + name + " has " + std::to_string(size) + " values, expected " +
                  std::to_string(want) + " (" + std::to_string(n) + " windows x max_seq " + std::to_string(s) + ")");
  };
  check("input_ids", f.input_ids.size(), n * s);
  check("token_type_ids", f.token_type_ids.size(), n * s);
  check("attention_mask", f.attention_mask.size(), n * s);
  check("end_positions", f.end_positions.size(), n);
  for (int64_t i = 0; i < n; ++i) {
    if (f.start_positions[i] < 0 || f.start_positions[i] >= s || f.end_positions[i] < 0 || f.end_positions[i] >= s)
      throw Error("features: window " + std::to_string(i) + " has an answer position outside [0, " + std::to_string(s) +
                  ")");
  }
}

Batch make_batch(const SquadFeatures& f, const std::vector<int64_t>& rows, torch::Device device) {
  const int64_t s = f.max_seq;
  const int64_t b = static_cast<int64_t>(rows.size());
  int64_t length = 1;
  for (int64_t r : rows) {
    const int32_t* mask = f.attention_mask.data() + r * s;
    int64_t last = s;
    while (last > 0 && mask[last - 1] == 0) --last;
    length = std::max(length, last);
  }
  // Answers always lie on real tokens, but keep the cut safe for odd files.
  for (int64_t r : rows) length = std::max<int64_t>(length, std::max(f.start_positions[r], f.end_positions[r]) + 1);

  auto opts = torch::TensorOptions().dtype(torch::kInt64);
  Batch batch;
  batch.length = length;
  batch.input_ids = torch::empty({b, length}, opts);
  batch.token_type_ids = torch::empty({b, length}, opts);
  batch.attention_mask = torch::empty({b, length}, opts);
  batch.start_positions = torch::empty({b}, opts);
  batch.end_positions = torch::empty({b}, opts);
  auto ids = batch.input_ids.accessor<int64_t, 2>();
  auto types = batch.token_type_ids.accessor<int64_t, 2>();
  auto mask = batch.attention_mask.accessor<int64_t, 2>();
  auto starts = batch.start_positions.accessor<int64_t, 1>();
  auto ends = batch.end_positions.accessor<int64_t, 1>();
  for (int64_t i = 0; i < b; ++i) {
    const int64_t base = rows[i] * s;
    for (int64_t j = 0; j < length; ++j) {
      ids[i][j] = f.input_ids[base + j];
      types[i][j] = f.token_type_ids[base + j];
      mask[i][j] = f.attention_mask[base + j];
    }
    starts[i] = f.start_positions[rows[i]];
    ends[i] = f.end_positions[rows[i]];
  }
  if (f.has_teacher_logits()) {
    batch.teacher_start_logits = torch::empty({b, length}, torch::kFloat32);
    batch.teacher_end_logits = torch::empty({b, length}, torch::kFloat32);
    float* ts = batch.teacher_start_logits.data_ptr<float>();
    float* te = batch.teacher_end_logits.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) {
      std::copy_n(f.teacher_start_logits.data() + rows[i] * s, length, ts + i * length);
      std::copy_n(f.teacher_end_logits.data() + rows[i] * s, length, te + i * length);
    }
  }
  if (!device.is_cpu())
    for (torch::Tensor* t : {&batch.input_ids, &batch.token_type_ids, &batch.attention_mask, &batch.start_positions,
                             &batch.end_positions, &batch.teacher_start_logits, &batch.teacher_end_logits})
      if (t->defined()) *t = t->to(device);
  return batch;
}

}  // namespace fastbert
