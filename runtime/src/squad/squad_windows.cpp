#include "fastbert/runtime/squad/squad_windows.h"

#include <algorithm>

#include "fastbert/common/error.h"

namespace fastbert {

namespace {

// Context tokens [first, last] that overlap the answer's bytes; false when the
// answer covers no token (e.g. only whitespace).
bool answer_token_span(const Encoding& context, const SquadAnswer& answer, int64_t* first, int64_t* last) {
  const int64_t begin = answer.begin, end = answer.begin + static_cast<int64_t>(answer.text.size());
  const int64_t n = static_cast<int64_t>(context.offsets.size());
  *first = -1;
  *last = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (context.offsets[i].end > begin && context.offsets[i].begin < end) {
      if (*first < 0) *first = i;
      *last = i;
    }
  }
  return *first >= 0;
}

struct Window {
  int64_t question;
  int64_t doc_start;
  int64_t doc_length;
};

}  // namespace

SquadFeatures make_squad_features(const SquadDataset& data, const Tokenizer& tokenizer,
                                  const SquadWindowOptions& options) {
  if (options.max_seq <= 3 || options.doc_stride <= 0 || options.max_query <= 0)
    throw Error("SQuAD windows need max_seq > 3, doc_stride > 0 and max_query > 0");
  const int64_t num_contexts = static_cast<int64_t>(data.contexts.size());
  const int64_t num_questions = static_cast<int64_t>(data.questions.size());

  std::vector<Encoding> contexts(static_cast<size_t>(num_contexts));
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t c = 0; c < num_contexts; ++c) contexts[c] = tokenizer.encode(data.contexts[c]);
  std::vector<std::vector<int32_t>> questions(static_cast<size_t>(num_questions));
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t q = 0; q < num_questions; ++q) {
    questions[q] = tokenizer.encode(data.questions[q].question).ids;
    if (static_cast<int64_t>(questions[q].size()) > options.max_query) questions[q].resize(options.max_query);
  }

  // Sliding windows as in BERT's run_squad: the next window starts doc_stride
  // tokens later, until one reaches the end of the context.
  std::vector<Window> windows;
  for (int64_t q = 0; q < num_questions; ++q) {
    const int64_t query = static_cast<int64_t>(questions[q].size());
    const int64_t max_doc = options.max_seq - query - 3;
    if (max_doc <= 0)
      throw Error("max_seq " + std::to_string(options.max_seq) + " leaves no room for the context after a " +
                  std::to_string(query) + "-token question (lower max_query or raise max_seq)");
    const int64_t n = static_cast<int64_t>(contexts[data.questions[q].context].ids.size());
    int64_t start = 0;
    while (true) {
      const int64_t length = std::min(n - start, max_doc);
      windows.push_back(Window{q, start, length});
      if (start + length >= n) break;
      start += std::min(length, options.doc_stride);
    }
  }

  SquadFeatures f;
  f.max_seq = options.max_seq;
  f.doc_stride = options.doc_stride;
  f.max_query = options.max_query;
  f.tokenizer = tokenizer.description();
  const int64_t s = options.max_seq, num_windows = static_cast<int64_t>(windows.size());
  f.input_ids.assign(static_cast<size_t>(num_windows * s), tokenizer.pad_id());
  f.token_type_ids.assign(static_cast<size_t>(num_windows * s), 0);
  f.attention_mask.assign(static_cast<size_t>(num_windows * s), 0);
  f.offsets.assign(static_cast<size_t>(num_windows * s * 2), -1);
  f.start_positions.assign(static_cast<size_t>(num_windows), 0);
  f.end_positions.assign(static_cast<size_t>(num_windows), 0);
  f.example_index.resize(static_cast<size_t>(num_windows));
  f.example_ids.reserve(static_cast<size_t>(num_questions));
  for (const auto& q : data.questions) f.example_ids.push_back(q.id);

#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < num_windows; ++w) {
    const Window& win = windows[w];
    const SquadQuestion& question = data.questions[win.question];
    const Encoding& context = contexts[question.context];
    const std::vector<int32_t>& query = questions[win.question];
    int32_t* ids = &f.input_ids[w * s];
    int32_t* types = &f.token_type_ids[w * s];
    int32_t* mask = &f.attention_mask[w * s];
    int32_t* offsets = &f.offsets[w * s * 2];
    int64_t pos = 0;
    ids[pos++] = tokenizer.cls_id();
    for (int32_t id : query) ids[pos++] = id;
    ids[pos++] = tokenizer.sep_id();
    const int64_t doc_offset = pos;
    for (int64_t i = 0; i < win.doc_length; ++i, ++pos) {
      const int64_t token = win.doc_start + i;
      ids[pos] = context.ids[token];
      types[pos] = 1;
      offsets[pos * 2] = context.offsets[token].begin;
      offsets[pos * 2 + 1] = context.offsets[token].end;
    }
    ids[pos] = tokenizer.sep_id();
    types[pos] = 1;
    ++pos;
    std::fill(mask, mask + pos, 1);

    int64_t first = 0, last = 0;
    if (answer_token_span(context, question.answers.front(), &first, &last) && first >= win.doc_start &&
        last < win.doc_start + win.doc_length) {
      f.start_positions[w] = static_cast<int32_t>(first - win.doc_start + doc_offset);
      f.end_positions[w] = static_cast<int32_t>(last - win.doc_start + doc_offset);
    }
    f.example_index[w] = static_cast<int32_t>(win.question);
  }
  return f;
}

}  // namespace fastbert
