#pragma once
// Upper bounds shared by command-line options and recipe keys, each checked
// with fastbert/common/bounded_number.h before any work (thread counts:
// kMaxThreads in threads.h). Generous for every real use, and small enough
// that no product of them (windows x tokens x features, epochs x steps)
// overflows int64.
#include <cstdint>

namespace fastbert {

// Tokens per window: 16x BERT's 512 positions. The model's own position table
// is checked too wherever the model is known before the work.
constexpr int64_t kMaxSequence = 8192;
// Windows per forward pass or per training micro-batch.
constexpr int64_t kMaxBatch = 65536;
// Optimizer steps (a MiniLM SQuAD run takes ~10^4).
constexpr int64_t kMaxSteps = int64_t{1} << 40;
// Epochs of one training stage.
constexpr int64_t kMaxEpochs = 10000;

}  // namespace fastbert
