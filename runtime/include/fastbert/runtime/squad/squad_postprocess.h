#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "fastbert/formats/squad_features.h"

namespace fastbert {

// The logit of a padding position (attention mask 0), as masked scores are in
// BERT: the engine writes it there, and post-processing ranks every padding
// position at it whatever the logits say, so the raw logits of another engine
// (ONNX Runtime, PyTorch) cannot crowd real tokens out of the n-best.
constexpr float kPaddingLogit = -10000.0f;

struct SquadPostprocessOptions {
  int n_best = 20;             // candidate starts and ends per window
  int max_answer_length = 30;  // in tokens
  // As BERT's run_squad: a span may start only in the window where its start
  // token has the most context on both sides (overlapping windows otherwise
  // let a token near a window edge, seen with little context, win).
  bool require_max_context = true;
};

struct SquadPrediction {
  std::string text;  // context bytes [begin, end); empty when no valid span exists
  int32_t begin = -1;
  int32_t end = -1;
  float score = 0;  // start logit + end logit of the chosen span
};

// Best answer span of every example of `features` (one per example id, same
// order): over all windows of the example, the n_best highest start and end
// logits (padding positions at kPaddingLogit) are paired; pairs with
// end >= start, at most max_answer_length tokens and both ends on context
// tokens compete on start + end logit. contexts[i] is
// the context of features.example_ids[i]. Windows must be laid out as
// make_squad_features does (window k of an example starts k * doc_stride
// context tokens in).
std::vector<SquadPrediction> postprocess_squad(const SquadFeatures& features, const SquadLogits& logits,
                                               const std::vector<std::string_view>& contexts,
                                               const SquadPostprocessOptions& options = {});

}  // namespace fastbert
