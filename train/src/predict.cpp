#include "fastbert/train/predict.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

#include "fastbert/common/error.h"
#include "fastbert/train/batch.h"

namespace fastbert {

SquadLogits predict_logits(BertForQuestionAnswering& model, const SquadFeatures& features, int64_t batch_size,
                           bool log_progress, const LinearFn& linear) {
  if (batch_size <= 0) throw Error("predict: batch size must be positive");
  return predict_logits(model, TrainingWindows(features), batch_size, log_progress, linear);
}

SquadLogits predict_logits(BertForQuestionAnswering& model, const TrainingWindows& windows, int64_t batch_size,
                           bool log_progress, const LinearFn& linear) {
  if (batch_size <= 0) throw Error("predict: batch size must be positive");
  const int64_t n = windows.num_windows(), s = windows.max_seq();
  if (s > model->config.max_position_embeddings)
    throw Error("predict: the features have max_seq " + std::to_string(s) + " but the model has only " +
                std::to_string(model->config.max_position_embeddings) + " position embeddings");
  torch::NoGradGuard no_grad;
  model->eval();
  SquadLogits out;
  out.max_seq = s;
  out.start_logits.assign(static_cast<std::size_t>(n * s), kPaddingLogit);
  out.end_logits.assign(static_cast<std::size_t>(n * s), kPaddingLogit);
  // Windows of similar length share a batch so that little padding is
  // computed; real tokens' outputs do not depend on the padding around them.
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const std::vector<int32_t>& length = windows.real_tokens();
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return length[a] < length[b]; });

  const auto started = std::chrono::steady_clock::now();
  auto last_log = started;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    const std::vector<int64_t> rows(order.begin() + begin, order.begin() + end);
    const Batch batch = windows.batch(rows, model->device());
    const QaLogits logits =
        mask_padding(linear ? traced_forward(model, batch.input_ids, batch.token_type_ids, batch.attention_mask,
                                             linear, false)
                                  .logits
                            : model(batch.input_ids, batch.token_type_ids, batch.attention_mask),
                     batch.attention_mask);
    auto start = logits.start.to(torch::kCPU, torch::kFloat32).contiguous();
    auto stop = logits.end.to(torch::kCPU, torch::kFloat32).contiguous();
    const float* ps = start.data_ptr<float>();
    const float* pe = stop.data_ptr<float>();
    for (int64_t i = 0; i < end - begin; ++i) {
      std::copy(ps + i * batch.length, ps + (i + 1) * batch.length, out.start_logits.begin() + rows[i] * s);
      std::copy(pe + i * batch.length, pe + (i + 1) * batch.length, out.end_logits.begin() + rows[i] * s);
    }
    const auto now = std::chrono::steady_clock::now();
    if (log_progress && (std::chrono::duration<double>(now - last_log).count() >= 10 || end == n)) {
      const double seconds = std::chrono::duration<double>(now - started).count();
      std::fprintf(stderr, "predict: %lld/%lld windows, %.1f windows/s\n", static_cast<long long>(end),
                   static_cast<long long>(n), static_cast<double>(end) / std::max(1e-9, seconds));
      last_log = now;
    }
  }
  return out;
}

}  // namespace fastbert
