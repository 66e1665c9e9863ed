#pragma once
#include <filesystem>

#include "fastbert/formats/squad_features.h"
#include "fastbert/model/bert_qa.h"
#include "fastbert/model/traced_forward.h"
#include "fastbert/train/training_windows.h"

namespace fastbert {

// Start/end logits of `model` for every window, row for row, in eval mode (no
// dropout) and without autograd. Padding positions get kPaddingLogit (as in
// the training loss), so the output does not depend on the batch size. A
// `linear` function (e.g. int8 fake quantization) replaces every linear layer
// when given. `log_progress`: a line on stderr about every 10 seconds.
SquadLogits predict_logits(BertForQuestionAnswering& model, const TrainingWindows& windows, int64_t batch_size,
                           bool log_progress = false, const LinearFn& linear = LinearFn());
SquadLogits predict_logits(BertForQuestionAnswering& model, const SquadFeatures& features, int64_t batch_size,
                           bool log_progress = false, const LinearFn& linear = LinearFn());

}  // namespace fastbert
