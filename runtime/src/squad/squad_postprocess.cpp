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
  std::partial_sort(
      idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(keep), idx.end(),
      [values](int32_t a, int32_t b) { return values[a] > values[b] || (values[a] == values[b] && a < b); });
  idx.resize(keep);
  return idx;
}

// One window's logits with every padding position at kPaddingLogit.
void mask_padding(const float* logits, const int32_t* attention_mask, int64_t s, std::vector<float>& out) {
  out.resize(static_cast<size_t>(s));
  for (int64_t p = 0; p < s; ++p) out[p] = attention_mask[p] ? logits[p] : kPaddingLogit;
}

// Where each window sits in its example's context tokens.
struct WindowSpan {
  int64_t doc_offset = 0;  // position of the first context token in the window
  int64_t doc_start = 0;   // index of that token among the example's context tokens
  int64_t length = 0;      // context tokens in the window
};

std::vector<WindowSpan> window_spans(const SquadFeatures& f) {
  const int64_t n = f.num_windows(), s = f.max_seq;
  std::vector<WindowSpan> spans(static_cast<size_t>(n));
  std::vector<int64_t> windows_seen(f.example_ids.size(), 0), first_length(f.example_ids.size(), 0);
  for (int64_t w = 0; w < n; ++w) {
    const int32_t* offsets = &f.offsets[w * s * 2];
    WindowSpan& span = spans[w];
    span.doc_offset = -1;
    for (int64_t p = 0; p < s; ++p) {
      if (offsets[p * 2] < 0) continue;
      if (span.doc_offset < 0) span.doc_offset = p;
      ++span.length;
    }
    const size_t e = static_cast<size_t>(f.example_index[w]);
    // Every window but the last is full, and the next starts min(doc_stride,
    // full length) tokens later (BERT's run_squad sliding window).
    if (windows_seen[e] == 0) first_length[e] = span.length;
    span.doc_start = windows_seen[e] * std::min<int64_t>(f.doc_stride, first_length[e]);
    ++windows_seen[e];
  }
  return spans;
}

// _check_is_max_context of BERT's run_squad.
bool is_max_context(const std::vector<WindowSpan>& spans, const std::vector<int64_t>& example_windows, int64_t window,
                    int64_t token) {
  double best_score = -1;
  int64_t best_window = -1;
  for (int64_t w : example_windows) {
    const WindowSpan& span = spans[w];
    const int64_t end = span.doc_start + span.length - 1;
    if (token < span.doc_start || token > end) continue;
    const double score =
        static_cast<double>(std::min(token - span.doc_start, end - token)) + 0.01 * static_cast<double>(span.length);
    if (best_window < 0 || score > best_score) {
      best_score = score;
      best_window = w;
    }
  }
  return best_window == window;
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

  const std::vector<WindowSpan> spans = window_spans(features);
  std::vector<std::vector<int64_t>> example_windows(features.example_ids.size());
  for (int64_t w = 0; w < n; ++w) example_windows[static_cast<size_t>(features.example_index[w])].push_back(w);

  std::vector<SquadPrediction> best(features.example_ids.size());
  std::vector<bool> found(features.example_ids.size(), false);
  std::vector<float> start_row, end_row;
  for (int64_t w = 0; w < n; ++w) {
    const size_t example = static_cast<size_t>(features.example_index[w]);
    mask_padding(&logits.start_logits[w * s], &features.attention_mask[w * s], s, start_row);
    mask_padding(&logits.end_logits[w * s], &features.attention_mask[w * s], s, end_row);
    const float* start_logits = start_row.data();
    const float* end_logits = end_row.data();
    const int32_t* offsets = &features.offsets[w * s * 2];
    const auto starts = top_k(start_logits, static_cast<int32_t>(s), options.n_best);
    const auto ends = top_k(end_logits, static_cast<int32_t>(s), options.n_best);
    const std::string_view context = contexts[example];
    for (int32_t st : starts) {
      if (offsets[st * 2] < 0) continue;  // question, special or padding token
      if (options.require_max_context &&
          !is_max_context(spans, example_windows[example], w, spans[w].doc_start + (st - spans[w].doc_offset)))
        continue;
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
