#include "fastbert/runtime/squad/squad_runner.h"

#include <algorithm>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"

namespace fastbert {

SquadLogits run_squad(Engine& engine, const SquadFeatures& features, int64_t batch_size) {
  if (batch_size <= 0) throw Error("run_squad: batch size must be positive");
  features.validate();
  const int64_t n = features.num_windows(), s = features.max_seq;
  SquadLogits out;
  out.max_seq = s;
  out.start_logits.resize(static_cast<size_t>(n * s));
  out.end_logits.resize(static_cast<size_t>(n * s));
  for (int64_t r = 0; r < n; r += batch_size) {
    const int64_t nb = std::min(batch_size, n - r);
    engine.forward(features.input_ids.data() + r * s, features.token_type_ids.data() + r * s,
                   features.attention_mask.data() + r * s, nb, s, out.start_logits.data() + r * s,
                   out.end_logits.data() + r * s);
  }
  return out;
}

SquadPrediction answer(Engine& engine, std::string_view question, std::string_view context,
                       const SquadWindowOptions& windows, const SquadPostprocessOptions& post) {
  SquadDataset data;
  data.contexts.emplace_back(context);
  SquadQuestion q;
  q.id = "question";
  q.question = std::string(question);
  // The windowing maps a gold answer to tokens; an empty placeholder maps to
  // none, so every window is labelled "no answer" and nothing else changes.
  q.answers.push_back(SquadAnswer{"", 0});
  data.questions.push_back(q);
  // The windowing tokenizes in parallel: on the engine's threads too.
  const ScopedNumThreads threads(engine.num_threads());
  const SquadFeatures features = make_squad_features(data, engine.tokenizer(), windows);
  const SquadLogits logits = run_squad(engine, features, 8);
  return postprocess_squad(features, logits, {context}, post).at(0);
}

}  // namespace fastbert
