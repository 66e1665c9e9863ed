#include "fastbert/train/predict.h"

#include <numeric>

#include "fastbert/common/error.h"
#include "fastbert/train/batch.h"

namespace fastbert {

SquadLogits predict_logits(BertForQuestionAnswering& model, const SquadFeatures& features, int64_t batch_size,
                           const LinearFn& linear) {
  if (batch_size <= 0) throw Error("predict: batch size must be positive");
  check_features_shape(features);
  const int64_t n = features.num_windows(), s = features.max_seq;
  if (s > model->config.max_position_embeddings)
    throw Error("predict: the features have max_seq " + std::to_string(s) + " but the model has only " +
                std::to_string(model->config.max_position_embeddings) + " position embeddings");
  torch::NoGradGuard no_grad;
  model->eval();
  SquadLogits out;
  out.max_seq = s;
  out.start_logits.assign(static_cast<std::size_t>(n * s), kPaddingLogit);
  out.end_logits.assign(static_cast<std::size_t>(n * s), kPaddingLogit);
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    std::vector<int64_t> rows(static_cast<std::size_t>(end - begin));
    std::iota(rows.begin(), rows.end(), begin);
    const Batch batch = make_batch(features, rows);
    const QaLogits logits =
        linear ? traced_forward(model, batch.input_ids, batch.token_type_ids, batch.attention_mask, linear, false).logits
               : model(batch.input_ids, batch.token_type_ids, batch.attention_mask);
    auto start = logits.start.contiguous();
    auto stop = logits.end.contiguous();
    const float* ps = start.data_ptr<float>();
    const float* pe = stop.data_ptr<float>();
    for (int64_t i = 0; i < end - begin; ++i) {
      std::copy(ps + i * batch.length, ps + (i + 1) * batch.length, out.start_logits.begin() + (begin + i) * s);
      std::copy(pe + i * batch.length, pe + (i + 1) * batch.length, out.end_logits.begin() + (begin + i) * s);
    }
  }
  return out;
}

}  // namespace fastbert
