#pragma once
#include <filesystem>

#include "fastbert/formats/squad_features.h"
#include "fastbert/model/bert_qa.h"

namespace fastbert {

// Start/end logits of `model` for every window, row for row, in eval mode (no
// dropout) and without autograd. Positions after the last real token of a
// batch are not computed and get kPaddingLogit; post-processing only looks at
// context tokens.
constexpr float kPaddingLogit = -10000.0f;
SquadLogits predict_logits(BertForQuestionAnswering& model, const SquadFeatures& features, int64_t batch_size);

}  // namespace fastbert
