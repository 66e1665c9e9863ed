#pragma once
#include <filesystem>

#include "fastbert/formats/squad_features.h"
#include "fastbert/model/bert_qa.h"
#include "fastbert/model/traced_forward.h"

namespace fastbert {

// Start/end logits of `model` for every window, row for row, in eval mode (no
// dropout) and without autograd. Positions after the last real token of a
// batch are not computed and get kPaddingLogit; post-processing only looks at
// context tokens. A `linear` function (e.g. int8 fake quantization) replaces
// every linear layer when given.
constexpr float kPaddingLogit = -10000.0f;
SquadLogits predict_logits(BertForQuestionAnswering& model, const SquadFeatures& features, int64_t batch_size,
                           const LinearFn& linear = LinearFn());

}  // namespace fastbert
