#pragma once
// SQuAD question answering on an Engine: every window of prepared features
// to logits, or one question over one context to its best answer span. Both
// call Engine::forward, so they follow its threading rules (engine.h).
#include <cstdint>
#include <string_view>

#include "fastbert/formats/squad_features.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_postprocess.h"
#include "fastbert/runtime/squad/squad_windows.h"

namespace fastbert {

// Start/end logits of every window of `features`, batch_size windows per
// forward pass.
SquadLogits run_squad(Engine& engine, const SquadFeatures& features, int64_t batch_size);

// The best answer span of `context` for `question`: the context split into
// windows with the engine's tokenizer, every window run, the spans compared.
SquadPrediction answer(Engine& engine, std::string_view question, std::string_view context,
                       const SquadWindowOptions& windows = {}, const SquadPostprocessOptions& post = {});

}  // namespace fastbert
