#include "fastbert/runtime/engine.h"

#include <stdlib.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <tuple>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/attention.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/runtime/fbm_file.h"
#include "fastbert/runtime/squad/squad_postprocess.h"
#include "layers/embeddings.h"
#include "layers/encoder_layer.h"
#include "layers/linear.h"
#include "layers/op_context.h"

namespace fastbert {
namespace fs = std::filesystem;
using layers::Linear;

namespace {

// Tokens per unit of work when a batch is split into units (see forward).
constexpr int64_t kUnitTokens = 128;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// 64-byte aligned, so every feature row of a 64-token multiple starts a cache line.
template <class T>
std::unique_ptr<T[], FreeDeleter> aligned_array(int64_t count) {
  const size_t bytes = std::max<size_t>(64, (static_cast<size_t>(count) * sizeof(T) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw Error("out of memory planning " + std::to_string(bytes) + " bytes of activations");
  std::memset(p, 0, bytes);
  return std::unique_ptr<T[], FreeDeleter>(static_cast<T*>(p));
}

// The tokenizer the manifest's spec names, built from its dataset in the
// mapping (no temporary file), with errors naming the .fbm and the dataset.
std::unique_ptr<Tokenizer> load_file_tokenizer(const fbm::FbmFile& file) {
  const TokenizerSpec& spec = file.tokenizer_spec();
  const char* dataset =
      spec.kind == TokenizerKind::wordpiece ? "tokenizer_vocab" : "tokenizer_sentencepiece_model";
  const auto blob = file.array<uint8_t>(dataset, {-1});
  const std::string_view bytes(reinterpret_cast<const char*>(blob.data), static_cast<size_t>(blob.size()));
  const std::string source = file.path().string() + ": dataset '" + dataset + "'";
  if (spec.kind == TokenizerKind::wordpiece && (bytes.empty() || bytes.back() != '\n'))
    throw Error(source + " does not end with a newline");
  return make_tokenizer(spec, bytes, source);
}

AttentionPath best_fp32_attention() {
  return kernels::select_kernel(attention_kernels(), [](const AttentionKernel& k) { return !k.reduced_precision; }).path;
}

}  // namespace

struct Engine::Impl {
  // Everything one (batch, sequence bucket) shape needs, allocated once.
  struct Bucket {
    int64_t batch = 0, seq = 0, m = 0;
    // Row stride of every [features][tokens] buffer: m rounded up to whole
    // cache lines of u8, and never a multiple of 1 KiB of fp32. Rows 4 KiB
    // apart (m = 1024, 2048, ...) all map to the same cache sets, and
    // LayerNorm, which walks down 384..1024 rows, ran 1.6x slower so.
    int64_t ld = 0;
    std::unique_ptr<float[], FreeDeleter> x, q, k, v, ctx, tmp, inter, logits;
    std::unique_ptr<uint8_t[], FreeDeleter> u8_a, u8_b;
    std::unique_ptr<unsigned char[], FreeDeleter> attention_workspace;
    std::vector<int32_t> valid_lengths;
    layers::Activations activations;  // views of the buffers above
    // Each bucket times its own ops, so threads running buckets side by side
    // never add to the same counters.
    EngineProfile profile;
  };

  // A bucket used by every thread at once, or one thread's own.
  static constexpr int kSharedBucket = -1;

  EngineOptions options;
  // Held by every call that uses or reads the planned buckets (forward,
  // profile, reset_profile): they run one at a time (engine.h).
  mutable std::mutex mutex;
  std::unique_ptr<fbm::FbmFile> file;
  fbm::ModelConfig cfg;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<layers::Embeddings> embeddings;
  std::vector<layers::EncoderLayer> encoder;
  const float* qa_weight = nullptr;
  const float* qa_bias = nullptr;
  AttentionPath attention = AttentionPath::automatic;
  // (batch, sequence bucket, kSharedBucket or thread) -> its buffers.
  std::map<std::tuple<int64_t, int64_t, int>, std::unique_ptr<Bucket>> buckets;
  int64_t sequences = 0;

  // Not thread-safe: every bucket a forward pass uses is planned before its
  // threads start.
  Bucket& bucket(int64_t batch, int64_t seq, int owner) {
    auto& slot = buckets[{batch, seq, owner}];
    if (slot) return *slot;
    auto b = std::make_unique<Bucket>();
    b->batch = batch;
    b->seq = seq;
    b->m = batch * seq;
    b->ld = (b->m + 63) / 64 * 64;
    if (b->ld % 256 == 0) b->ld += 64;
    const int64_t m = b->m, ld = b->ld, h = cfg.hidden_size, i = cfg.intermediate_size;
    // Zeroed: the padding columns are read (never used) by whole-buffer quantization.
    b->x = aligned_array<float>(h * ld);
    b->q = aligned_array<float>(h * ld);
    b->k = aligned_array<float>(h * ld);
    b->v = aligned_array<float>(h * ld);
    b->ctx = aligned_array<float>(h * ld);
    b->tmp = aligned_array<float>(h * ld);
    b->inter = aligned_array<float>(i * ld);
    b->logits = aligned_array<float>(2 * m);
    b->u8_a = aligned_array<uint8_t>(std::max(h, i) * ld);
    b->u8_b = aligned_array<uint8_t>(i * ld);
    b->valid_lengths.resize(static_cast<size_t>(batch));
    AttentionShape shape{static_cast<int>(batch), static_cast<int>(seq), static_cast<int>(cfg.num_heads),
                         static_cast<int>(cfg.head_dim())};
    layers::Activations& a = b->activations;
    a.batch = batch;
    a.seq = seq;
    a.m = m;
    a.ld = ld;
    a.x = b->x.get();
    a.q = b->q.get();
    a.k = b->k.get();
    a.v = b->v.get();
    a.ctx = b->ctx.get();
    a.tmp = b->tmp.get();
    a.inter = b->inter.get();
    a.u8_a = b->u8_a.get();
    a.u8_b = b->u8_b.get();
    a.valid_lengths = b->valid_lengths.data();
    a.attention_path = resolve_attention_path(attention, shape);
    a.attention_workspace_bytes =
        attention_workspace_bytes(shape, a.attention_path, owner == kSharedBucket ? fastbert::num_threads() : 1);
    b->attention_workspace = aligned_array<unsigned char>(static_cast<int64_t>(a.attention_workspace_bytes));
    a.attention_workspace = b->attention_workspace.get();
    slot = std::move(b);
    return *slot;
  }

  int64_t bucket_seq(int64_t longest) const {
    return std::min((longest + options.seq_bucket - 1) / options.seq_bucket * options.seq_bucket, cfg.max_position);
  }

  // The whole model over b.batch rows of `seq` input tokens (b.seq >= every
  // row's length), logits written [row][seq].
  void run_rows(Bucket& b, const int32_t* input_ids, const int32_t* token_type_ids, const int64_t* lengths,
                int64_t seq, float* start_logits, float* end_logits) {
    for (int64_t r = 0; r < b.batch; ++r) b.valid_lengths[static_cast<size_t>(r)] = static_cast<int32_t>(lengths[r]);
    layers::OpContext ops(options, &b.profile);
    const layers::Activations& a = b.activations;
    layers::HeldQuant held_a;
    ops.timed("embeddings", [&] { embeddings->forward(input_ids, token_type_ids, b.batch, seq, b.seq, a.x, b.ld); });
    const Linear* first = encoder.empty() ? nullptr : &encoder[0].query();
    ops.layer_norm_into(a, cfg.hidden_size, static_cast<float>(cfg.layer_norm_eps), "embeddings", a.x, nullptr,
                        embeddings->gamma(), embeddings->beta(), first, &held_a);
    for (size_t l = 0; l < encoder.size(); ++l) {
      const Linear* next = l + 1 < encoder.size() ? &encoder[l + 1].query() : nullptr;
      encoder[l].forward(a, ops, next, &held_a);
    }
    ops.timed("other", [&] { qa_head(b); });
    const float* logits = b.logits.get();
    for (int64_t r = 0; r < b.batch; ++r)
      for (int64_t s = 0; s < seq; ++s) {
        const bool valid = s < lengths[r];
        start_logits[r * seq + s] = valid ? logits[r * b.seq + s] : kPaddingLogit;
        end_logits[r * seq + s] = valid ? logits[b.m + r * b.seq + s] : kPaddingLogit;
      }
  }

  void qa_head(Bucket& b) const {
    const int64_t m = b.m, h = cfg.hidden_size;
    const float* x = b.x.get();
    float* out = b.logits.get();
    // About 0.1 ns per multiply-add on one core.
#pragma omp parallel for schedule(static) num_threads(threads_for_work(0.1 * double(2 * h * m)))
    for (int64_t blk = 0; blk < (m + 63) / 64; ++blk) {
      const int64_t m0 = blk * 64, m1 = std::min(m, m0 + 64);
      for (int j = 0; j < 2; ++j) {
        float acc[64];
        for (int64_t t = m0; t < m1; ++t) acc[t - m0] = 0.0f;
        for (int64_t f = 0; f < h; ++f) {
          const float w = qa_weight[j * h + f];
          const float* row = x + f * b.ld;
          for (int64_t t = m0; t < m1; ++t) acc[t - m0] += w * row[t];
        }
        for (int64_t t = m0; t < m1; ++t) out[j * m + t] = acc[t - m0] + qa_bias[j];
      }
    }
  }
};

Engine::Engine(const fs::path& path, const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& I = *impl_;
  I.options = options;
  if (options.seq_bucket <= 0) throw Error("EngineOptions::seq_bucket must be positive");
  if (!(options.int8_dense_below_sparsity < 0 ||
        (options.int8_dense_below_sparsity >= 0 && options.int8_dense_below_sparsity <= 1)))
    throw Error("EngineOptions::int8_dense_below_sparsity is " + std::to_string(options.int8_dense_below_sparsity) +
                ", expected a sparsity in [0, 1] or a negative value for this CPU's default");
  const double dense_below = options.int8_dense_below_sparsity < 0 ? layers::default_int8_dense_below_sparsity()
                                                                   : options.int8_dense_below_sparsity;
  const ScopedNumThreads threads(options.num_threads);
  // A FASTBERT_ISA this CPU cannot run is refused here, once, whatever the
  // model's layers: an fp32 model would otherwise never ask the GEMM level.
  kernels::isa_cap();
  I.file = fbm::FbmFile::open(path);
  const fbm::FbmFile& f = *I.file;
  I.cfg = f.config();
  const int64_t h = I.cfg.hidden_size;
  I.tokenizer = load_file_tokenizer(f);
  if (I.tokenizer->vocab_size() > I.cfg.vocab_size)
    throw Error(path.string() + ": the tokenizer has " + std::to_string(I.tokenizer->vocab_size()) +
                " tokens but the embeddings only " + std::to_string(I.cfg.vocab_size));
  I.embeddings = std::make_unique<layers::Embeddings>(f);
  bool any_int8 = false;
  for (int64_t l = 0; l < I.cfg.num_layers; ++l) {
    I.encoder.emplace_back(f, l, dense_below);
    any_int8 = any_int8 || I.encoder.back().any_int8();
  }
  I.qa_weight = f.array<float>("qa_head/weight", {2, h}).data;
  I.qa_bias = f.array<float>("qa_head/bias", {2}).data;
  I.attention = options.attention;
  if (I.attention == AttentionPath::automatic && !any_int8) I.attention = best_fp32_attention();
}

Engine::~Engine() = default;

const fbm::ModelConfig& Engine::config() const { return impl_->cfg; }
const Tokenizer& Engine::tokenizer() const { return *impl_->tokenizer; }
AttentionPath Engine::attention_path() const {
  AttentionShape shape{1, 128, static_cast<int>(impl_->cfg.num_heads), static_cast<int>(impl_->cfg.head_dim())};
  return resolve_attention_path(impl_->attention, shape);
}
EngineProfile Engine::profile() const {
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  EngineProfile merged;
  for (const auto& [key, b] : impl_->buckets) {
    for (const auto& [kind, seconds] : b->profile.seconds) merged.seconds[kind] += seconds;
    for (const auto& [name, seconds] : b->profile.linear_seconds) merged.linear_seconds[name] += seconds;
  }
  merged.sequences = impl_->sequences;
  return merged;
}
void Engine::reset_profile() {
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  for (auto& [key, b] : impl_->buckets) b->profile = EngineProfile();
  impl_->sequences = 0;
}
int Engine::num_threads() const {
  return impl_->options.num_threads > 0 ? impl_->options.num_threads : fastbert::num_threads();
}

std::vector<LinearSummary> Engine::linears() const {
  std::vector<LinearSummary> out;
  for (size_t l = 0; l < impl_->encoder.size(); ++l) {
    const auto ls = impl_->encoder[l].linears();
    for (int j = 0; j < fbm::kLinearsPerLayer; ++j) {
      std::string name = fbm::linear_prefix(static_cast<int64_t>(l), fbm::kLayerLinears[j]);
      name.pop_back();
      out.push_back({name, ls[j]->format(), ls[j]->out_features(), ls[j]->in_features(), ls[j]->block_sparsity(),
                     ls[j]->stored_bytes(), ls[j]->implementation()});
    }
  }
  return out;
}

void Engine::forward(const int32_t* input_ids, const int32_t* token_type_ids, const int32_t* attention_mask,
                     int64_t batch, int64_t seq, float* start_logits, float* end_logits) {
  Impl& I = *impl_;
  if (batch <= 0 || seq <= 0) throw Error("Engine::forward: batch and seq must be positive");
  const std::lock_guard<std::mutex> lock(I.mutex);
  const ScopedNumThreads scoped_threads(I.options.num_threads);
  std::vector<int64_t> lengths(static_cast<size_t>(batch));
  int64_t longest = 1;
  for (int64_t r = 0; r < batch; ++r) {
    const int32_t* mask = attention_mask + r * seq;
    int64_t len = 0;
    while (len < seq && mask[len] != 0) ++len;
    for (int64_t s = len; s < seq; ++s)
      if (mask[s] != 0)
        throw Error("attention_mask row " + std::to_string(r) + " is not a prefix of ones (position " +
                    std::to_string(s) + " is 1 after padding)");
    lengths[static_cast<size_t>(r)] = len;
    longest = std::max(longest, len);
  }
  if (longest > I.cfg.max_position)
    throw Error("sequence of " + std::to_string(longest) + " tokens is longer than the model's " +
                std::to_string(I.cfg.max_position) + " positions");

  // Batches are split into units of whole sequences, each run by one thread
  // on its own buffers; one sequence of 128 tokens or more per unit. Measured
  // on MiniLM (80 % sparse int8, one thread, seq 128): 375 seq/s at batch 1
  // and 326 at batch 8, as a unit's activations and a layer's weights stay in
  // the core's L2. At 2 threads, batch 8: 713 seq/s split, 460 with both
  // threads on every op (and at seq 384: 159 against 99). One thread runs
  // the units one after the other (dev-set eval at batch 32 of seq 256, one
  // thread: 176 examples/s and 118 MB resident, against 103 and 467 MB for
  // the whole batch as one).
  const int threads = fastbert::num_threads();
  const int64_t unit = std::max<int64_t>(1, kUnitTokens / seq);
  const int64_t units = (batch + unit - 1) / unit;
  // Nested OpenMP must be inactive: the ops inside a unit then run on the
  // unit's thread alone.
  const bool split = units > 1 && !I.options.linear_input_observer && !omp_in_parallel() &&
                     omp_get_max_active_levels() <= 1;
  if (!split) {
    I.run_rows(I.bucket(batch, I.bucket_seq(longest), Impl::kSharedBucket), input_ids, token_type_ids,
               lengths.data(), seq, start_logits, end_logits);
  } else {
    std::vector<int64_t> unit_seq(static_cast<size_t>(units));
    for (int64_t u = 0; u < units; ++u) {
      const int64_t r0 = u * unit, r1 = std::min(batch, r0 + unit);
      const int64_t unit_longest = *std::max_element(lengths.begin() + r0, lengths.begin() + r1);
      unit_seq[static_cast<size_t>(u)] = I.bucket_seq(std::max<int64_t>(1, unit_longest));
      for (int t = 0; t < threads; ++t) I.bucket(r1 - r0, unit_seq[static_cast<size_t>(u)], t);
    }
    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t r0 = u * unit, r1 = std::min(batch, r0 + unit);
      try {
        Impl::Bucket& b = *I.buckets.at({r1 - r0, unit_seq[static_cast<size_t>(u)], omp_get_thread_num()});
        I.run_rows(b, input_ids + r0 * seq, token_type_ids + r0 * seq, lengths.data() + r0, seq,
                   start_logits + r0 * seq, end_logits + r0 * seq);
      } catch (...) {
#pragma omp critical(fastbert_engine_failure)
        if (!failure) failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
  }
  I.sequences += batch;
}

}  // namespace fastbert
