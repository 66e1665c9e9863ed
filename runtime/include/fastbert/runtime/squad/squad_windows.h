#pragma once
#include "fastbert/formats/squad_features.h"
#include "fastbert/runtime/squad/squad_dataset.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"

namespace fastbert {

struct SquadWindowOptions {
  int64_t max_seq = 384;
  int64_t doc_stride = 128;
  int64_t max_query = 64;
};

// The BERT SQuAD recipe (Hugging Face squad_convert_examples_to_features):
// each window is [CLS] question [SEP] context-window [SEP] + padding, the
// question cut to max_query tokens, windows starting every doc_stride context
// tokens until one reaches the end of the context. The answer (first gold
// answer) maps to the context tokens that overlap its bytes; a window that
// does not hold it whole gets start = end = 0 ([CLS]). Every question gets at
// least one window. Tokenization runs in parallel (OpenMP).
SquadFeatures make_squad_features(const SquadDataset& data, const Tokenizer& tokenizer,
                                  const SquadWindowOptions& options);

}  // namespace fastbert
