#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "fastbert/formats/squad_features.h"

namespace fastbert {

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
// logits are paired; pairs with end >= start, at most max_answer_length tokens
// and both ends on context tokens compete on start + end logit. contexts[i] is
// the context of features.example_ids[i]. Windows must be laid out as
// make_squad_features does (window k of an example starts k * doc_stride
// context tokens in).
std::vector<SquadPrediction> postprocess_squad(const SquadFeatures& features, const SquadLogits& logits,
                                               const std::vector<std::string_view>& contexts,
                                               const SquadPostprocessOptions& options = {});

}  // namespace fastbert
