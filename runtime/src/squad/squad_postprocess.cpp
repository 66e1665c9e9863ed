#include "fastbert/runtime/squad/squad_postprocess.h"

#include <algorithm>
#include <numeric>

#include "fastbert/common/error.h"

namespace fastbert {

namespace {

// Indices of the k largest values, largest first (ties: lower index first).
std::vector<int32_t> top_k(const float* values, int32_t n, int k) {
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const size_t keep = std::min<size_t>(static_cast<size_t>(std::max(k, 0)), idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(keep), idx.end(),
                    [values](int32_t a, int32_t b) { return values[a] > values[b] || (values[a] == values[b] && a < b); });
  idx.resize(keep);
  return idx;
}

}  // namespace

std::vector<SquadPrediction> postprocess_squad(const SquadFeatures& features, const SquadLogits& logits,
                                               const std::vector<std::string_view>& contexts,
                                               const SquadPostprocessOptions& options) {
  const int64_t n = features.num_windows(), s = features.max_seq;
  if (logits.max_seq != s || logits.num_windows() != n)
    throw Error("logits cover " + std::to_string(logits.num_windows()) + " windows of " +
                std::to_string(logits.max_seq) + " tokens, but the features have " + std::to_string(n) + " of " +
                std::to_string(s));
  if (contexts.size() != features.example_ids.size())
    throw Error("post-processing needs one context per example id (" + std::to_string(features.example_ids.size()) +
                "), got " + std::to_string(contexts.size()));

  std::vector<SquadPrediction> best(features.example_ids.size());
  std::vector<bool> found(features.example_ids.size(), false);
  for (int64_t w = 0; w < n; ++w) {
    const size_t example = static_cast<size_t>(features.example_index[w]);
    const float* start_logits = &logits.start_logits[w * s];
    const float* end_logits = &logits.end_logits[w * s];
    const int32_t* offsets = &features.offsets[w * s * 2];
    const auto starts = top_k(start_logits, static_cast<int32_t>(s), options.n_best);
    const auto ends = top_k(end_logits, static_cast<int32_t>(s), options.n_best);
    const std::string_view context = contexts[example];
    for (int32_t st : starts) {
      if (offsets[st * 2] < 0) continue;  // question, special or padding token
      for (int32_t en : ends) {
        if (offsets[en * 2] < 0 || en < st || en - st + 1 > options.max_answer_length) continue;
        const int32_t begin = offsets[st * 2], end = offsets[en * 2 + 1];
        if (end < begin || static_cast<size_t>(end) > context.size()) continue;
        const float score = start_logits[st] + end_logits[en];
        if (found[example] && score <= best[example].score) continue;
        found[example] = true;
        best[example] = SquadPrediction{std::string(context.substr(begin, end - begin)), begin, end, score};
      }
    }
  }
  return best;
}

}  // namespace fastbert
