#pragma once
// The runtime engine: BERT question answering from a .fbm file, without
// LibTorch. Activations are feature-major ([features][tokens]); buffers and
// oneDNN primitives are planned once per (batch, sequence bucket) and reused,
// so the hot loop allocates nothing. The SQuAD runner (windows, logits,
// answer spans) is fastbert/runtime/squad/squad_runner.h; docs/runtime-api.md
// shows both in a complete program.
//
// Threads. Every member function may be called from several threads at once.
// Calls of forward() on one Engine (and of the SQuAD runner, which calls it)
// run one at a time: a call waits for the one before it to finish, since
// they share the Engine's planned buffers. Distinct Engines run concurrently
// and share nothing, so a server answering N requests in parallel opens N
// Engines of the same file (one per worker thread), like CTranslate2's
// replicas. Inside a call the engine parallelises with OpenMP over
// EngineOptions::num_threads threads of the calling thread's team; it sets
// no process-wide state (the thread count applies to its own calls only).
// The count is an upper bound: tiny ops run on one thread
// (fastbert/common/threads.h: threads_for_work), and waiting threads spin
// briefly, then sleep (about 8 us of PAUSEs in fastbert's executables, see threads.h).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/formats/fbm_format.h"
#include "fastbert/kernels/attention_path.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"

namespace fastbert {

struct EngineOptions {
  // OpenMP threads of every call on this engine; 0 = the calling thread's
  // current OpenMP setting (omp_get_max_threads()) at each call.
  int num_threads = 0;
  // `automatic`: bf16/AMX attention when any linear is int8, the best fp32
  // path for an all-fp32 model (so an fp32 export matches fp32 LibTorch).
  AttentionPath attention = AttentionPath::automatic;
  bool profile = false;  // time every op kind (adds a clock read per op)
  // Int8 linears (dense or 4x1 block-sparse in the file) whose block sparsity
  // is below this run on the dense int8 matmul, the others on the 4x1 SpMM;
  // both give the same bits, only the speed differs. In [0, 1], or negative
  // for the measured default of this CPU and FASTBERT_ISA (docs/kernels.md):
  // 0.75 with AMX tiles, 0.3 with VNNI (AVX512 or AVX), 0 (always the SpMM)
  // below.
  double int8_dense_below_sparsity = -1;
  // Sequence lengths are rounded up to a multiple of this (shape buckets).
  int64_t seq_bucket = 32;
  // Calibration hook (export's int8 calibration): called with the fp32 input
  // of every fp32 encoder linear before it runs, feature-major: `features`
  // rows of `tokens` values (padding positions of the bucket included), rows
  // `ld` floats apart. `linear` is one of fbm::kLayerLinears.
  std::function<void(int64_t layer, const char* linear, const float* x, int64_t features, int64_t tokens, int64_t ld)>
      linear_input_observer;
};

// Seconds spent per op kind since the last reset (EngineOptions::profile).
struct EngineProfile {
  std::map<std::string, double> seconds;  // embeddings, linear_sparse, linear_dense, attention, layernorm, other
  // The linear kinds again, split by the linear's name in its layer (query,
  // key, value, attention_output, intermediate, output), summed over layers.
  std::map<std::string, double> linear_seconds;
  int64_t sequences = 0;
};

struct LinearSummary {
  std::string name;  // "encoder/layer_0/query"
  fbm::LinearFormat format;
  int64_t out_features = 0, in_features = 0;
  double block_sparsity = 0;
  int64_t bytes = 0;
  std::string implementation;
};

class Engine {
 public:
  // Throws fastbert::Error naming the file for anything it cannot use.
  explicit Engine(const std::filesystem::path& fbm_file, const EngineOptions& options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const fbm::ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  AttentionPath attention_path() const;
  std::vector<LinearSummary> linears() const;
  // The OpenMP threads a call from this thread would use now.
  int num_threads() const;

  // Start/end logits for `batch` windows of `seq` tokens (row-major
  // [batch][seq] inputs and outputs). attention_mask must be 1 for a prefix
  // of every row and 0 after it; positions past a row's valid length get
  // logit -10000 (the kernels skip padded queries). A batch runs as units of
  // whole sequences, each on one thread with its own buffers and sequence
  // bucket (the logits are those of the windows run one by one).
  void forward(const int32_t* input_ids, const int32_t* token_type_ids, const int32_t* attention_mask, int64_t batch,
               int64_t seq, float* start_logits, float* end_logits);

  // A copy: another thread may be running forward().
  EngineProfile profile() const;
  void reset_profile();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastbert
