#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "fastbert/formats/squad_features.h"

namespace fastbert {

struct SquadPostprocessOptions {
  int n_best = 20;             // candidate starts and ends per window
  int max_answer_length = 30;  // in tokens
};

struct SquadPrediction {
  std::string text;   // context bytes [begin, end); empty when no valid span exists
  int32_t begin = -1;
  int32_t end = -1;
  float score = 0;    // start logit + end logit of the chosen span
};

// Best answer span of every example of `features` (one per example id, same
// order): over all windows of the example, the n_best highest start and end
// logits are paired; pairs with end >= start, at most max_answer_length tokens
// and both ends on context tokens compete on start + end logit. contexts[i] is
// the context of features.example_ids[i].
std::vector<SquadPrediction> postprocess_squad(const SquadFeatures& features, const SquadLogits& logits,
                                               const std::vector<std::string_view>& contexts,
                                               const SquadPostprocessOptions& options = {});

}  // namespace fastbert
