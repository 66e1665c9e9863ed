#include "fastbert/runtime/engine.h"

#include <stdlib.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>
#include <tuple>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/attention.h"
#include "fastbert/kernels/gelu.h"
#include "fastbert/kernels/layer_norm.h"
#include "fastbert/kernels/quantize.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/runtime/fbm_file.h"
#include "layers/embeddings.h"
#include "layers/linear.h"

namespace fastbert {
namespace fs = std::filesystem;
using layers::Linear;
using layers::LinearFusion;
using layers::LinearIo;
using layers::QuantParams;

namespace {

// Tokens per unit of work when a batch is split into units (see forward).
constexpr int64_t kUnitTokens = 128;

// Padded positions get this logit, as masked scores do in BERT.
constexpr float kPaddingLogit = -10000.0f;

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
  const OpsIsa isa = ops_isa();
  if (isa >= OpsIsa::avx512f) return AttentionPath::fp32_avx512f;
  if (isa >= OpsIsa::avx2) return AttentionPath::fp32_avx2;
  return AttentionPath::fp32_reference;
}

}  // namespace

struct Engine::Impl {
  struct EncoderLayer {
    std::unique_ptr<Linear> query, key, value, attention_output, intermediate, output;
    const float* ln1_gamma = nullptr;
    const float* ln1_beta = nullptr;
    const float* ln2_gamma = nullptr;
    const float* ln2_beta = nullptr;
  };

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
    size_t attention_workspace_bytes = 0;
    std::vector<int32_t> valid_lengths;
    AttentionPath attention_path = AttentionPath::automatic;
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
  std::vector<EncoderLayer> encoder;
  const float* qa_weight = nullptr;
  const float* qa_bias = nullptr;
  AttentionPath attention = AttentionPath::automatic;
  // (batch, sequence bucket, kSharedBucket or thread) -> its buffers.
  std::map<std::tuple<int64_t, int64_t, int>, std::unique_ptr<Bucket>> buckets;
  int64_t sequences = 0;

  // Runs f, adding its seconds to `kind` when profiling; returns them (0
  // when not profiling).
  template <class F>
  double timed(Bucket& b, const char* kind, F&& f) {
    if (!options.profile) {
      f();
      return 0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    b.profile.seconds[kind] += seconds;
    return seconds;
  }
  static const char* linear_kind(const Linear& l) {
    return l.format() == fbm::LinearFormat::sparse_4x1_int8 ? "linear_sparse" : "linear_dense";
  }

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
    b->attention_path = resolve_attention_path(attention, shape);
    b->attention_workspace_bytes =
        attention_workspace_bytes(shape, b->attention_path, owner == kSharedBucket ? fastbert::num_threads() : 1);
    b->attention_workspace = aligned_array<unsigned char>(static_cast<int64_t>(b->attention_workspace_bytes));
    for (auto& layer : encoder)
      for (Linear* l : {layer.query.get(), layer.key.get(), layer.value.get(), layer.attention_output.get(),
                        layer.intermediate.get(), layer.output.get()})
        l->prepare(m);
    slot = std::move(b);
    return *slot;
  }

  // Makes `u8` hold `x` quantized for `l` when `l` is int8 and `u8` holds
  // something else (tracked in *held).
  void ensure_u8(Bucket& b, const Linear& l, const float* x, int64_t count, uint8_t* u8,
                 std::optional<QuantParams>* held) {
    if (!l.int8() || (*held && **held == l.input_quant())) return;
    timed(b, "other", [&] { kernels::quantize_u8(x, count, l.input_quant().scale, l.input_quant().zero_point, u8); });
    *held = l.input_quant();
  }

  void run_linear(Bucket& b, const Linear& l, const LinearIo& io, int64_t layer, const char* name) {
    if (options.linear_input_observer && !l.int8())
      options.linear_input_observer(layer, name, io.x, l.in_features(), io.m, io.ld);
    const double seconds = timed(b, linear_kind(l), [&] { l.forward(io); });
    if (options.profile) b.profile.linear_seconds[name] += seconds;
  }

  // LayerNorm of x (+ residual) into b.x, and into b.u8_a quantized for
  // `next` when that is int8; timed as `kind`.
  void layer_norm_into(Bucket& b, const char* kind, const float* x, const float* residual, const float* gamma,
                       const float* beta, const Linear* next, std::optional<QuantParams>* held) {
    LayerNormArgs a;
    a.features = cfg.hidden_size;
    a.tokens = b.m;
    a.x = x;
    a.ld_x = b.ld;
    a.residual = residual;
    a.ld_residual = b.ld;
    a.gamma = gamma;
    a.beta = beta;
    a.epsilon = static_cast<float>(cfg.layer_norm_eps);
    a.y = b.x.get();
    a.ld_y = b.ld;
    *held = std::nullopt;
    if (next && next->int8()) {
      a.y_u8 = b.u8_a.get();
      a.ld_y_u8 = b.ld;
      a.u8_scale = next->input_quant().scale;
      a.u8_zero_point = next->input_quant().zero_point;
      *held = next->input_quant();
    }
    timed(b, kind, [&] { layer_norm(a); });
  }

  void encoder_layer(Bucket& b, int64_t index, EncoderLayer& L, const Linear* next_query,
                     std::optional<QuantParams>* held_a) {
    const int64_t m = b.m, ld = b.ld, h = cfg.hidden_size, inter = cfg.intermediate_size;
    float* x = b.x.get();
    uint8_t* u8_a = b.u8_a.get();
    float* qkv[3] = {b.q.get(), b.k.get(), b.v.get()};
    Linear* qkv_layers[3] = {L.query.get(), L.key.get(), L.value.get()};
    for (int j = 0; j < 3; ++j) {
      ensure_u8(b, *qkv_layers[j], x, h * ld, u8_a, held_a);
      LinearIo io;
      io.m = m;
      io.ld = ld;
      io.x = x;
      io.x_u8 = u8_a;
      io.y = qkv[j];
      run_linear(b, *qkv_layers[j], io, index, fbm::kLayerLinears[j]);
    }

    // Attention writes the input of the output projection in its type.
    AttentionArgs aa;
    aa.shape = {static_cast<int>(b.batch), static_cast<int>(b.seq), static_cast<int>(cfg.num_heads),
                static_cast<int>(cfg.head_dim())};
    aa.q = b.q.get();
    aa.k = b.k.get();
    aa.v = b.v.get();
    aa.ld_in = ld;
    aa.valid_lengths = b.valid_lengths.data();
    aa.scale = 1.0f / std::sqrt(static_cast<float>(cfg.head_dim()));
    const Linear& ao = *L.attention_output;
    if (ao.int8()) {
      aa.out_u8 = u8_a;
      aa.ld_out_u8 = ld;
      aa.out_u8_scale = ao.input_quant().scale;
      aa.out_u8_zero_point = ao.input_quant().zero_point;
      *held_a = ao.input_quant();
    } else {
      aa.out = b.ctx.get();
      aa.ld_out = ld;
    }
    timed(b, "attention", [&] {
      fastbert::attention(aa, b.attention_workspace.get(), b.attention_workspace_bytes, b.attention_path);
    });

    LinearIo io;
    io.m = m;
    io.ld = ld;
    io.x = b.ctx.get();
    io.x_u8 = u8_a;
    io.residual = x;
    io.y = b.tmp.get();
    run_linear(b, ao, io, index, "attention_output");
    layer_norm_into(b, "layernorm", b.tmp.get(), ao.fusion().residual ? nullptr : x, L.ln1_gamma, L.ln1_beta,
                    L.intermediate.get(), held_a);

    // FFN: intermediate (+ GELU, fused into the sparse epilogue) then output.
    const Linear& il = *L.intermediate;
    const Linear& ol = *L.output;
    ensure_u8(b, il, x, h * ld, u8_a, held_a);
    io = LinearIo();
    io.m = m;
    io.ld = ld;
    io.x = x;
    io.x_u8 = u8_a;
    io.y = b.inter.get();
    io.y_u8 = b.u8_b.get();
    run_linear(b, il, io, index, "intermediate");
    if (!il.fusion().gelu) {
      GeluArgs g;
      g.rows = inter;
      g.cols = m;
      g.x = b.inter.get();
      g.ld_x = ld;
      g.y = b.inter.get();
      g.ld_y = ld;
      if (ol.int8()) {
        g.y = nullptr;
        g.y_u8 = b.u8_b.get();
        g.ld_y_u8 = ld;
        g.u8_scale = ol.input_quant().scale;
        g.u8_zero_point = ol.input_quant().zero_point;
      }
      timed(b, "other", [&] { gelu(g); });
    } else if (ol.int8() && !il.fusion().output_u8) {
      timed(b, "other", [&] {
        kernels::quantize_u8(b.inter.get(), inter * ld, ol.input_quant().scale, ol.input_quant().zero_point,
                             b.u8_b.get());
      });
    }
    io = LinearIo();
    io.m = m;
    io.ld = ld;
    io.x = b.inter.get();
    io.x_u8 = b.u8_b.get();
    io.residual = x;
    io.y = b.tmp.get();
    run_linear(b, ol, io, index, "output");
    layer_norm_into(b, "layernorm", b.tmp.get(), ol.fusion().residual ? nullptr : x, L.ln2_gamma, L.ln2_beta,
                    next_query, held_a);
  }

  int64_t bucket_seq(int64_t longest) const {
    return std::min((longest + options.seq_bucket - 1) / options.seq_bucket * options.seq_bucket, cfg.max_position);
  }

  // The whole model over b.batch rows of `seq` input tokens (b.seq >= every
  // row's length), logits written [row][seq].
  void run_rows(Bucket& b, const int32_t* input_ids, const int32_t* token_type_ids, const int64_t* lengths,
                int64_t seq, float* start_logits, float* end_logits) {
    for (int64_t r = 0; r < b.batch; ++r) b.valid_lengths[static_cast<size_t>(r)] = static_cast<int32_t>(lengths[r]);
    std::optional<QuantParams> held_a;
    timed(b, "embeddings", [&] {
      embeddings->forward(input_ids, token_type_ids, b.batch, seq, b.seq, b.x.get(), b.ld);
    });
    const Linear* first = encoder.empty() ? nullptr : encoder[0].query.get();
    layer_norm_into(b, "embeddings", b.x.get(), nullptr, embeddings->gamma(), embeddings->beta(), first, &held_a);
    for (size_t l = 0; l < encoder.size(); ++l) {
      const Linear* next = l + 1 < encoder.size() ? encoder[l + 1].query.get() : nullptr;
      encoder_layer(b, static_cast<int64_t>(l), encoder[l], next, &held_a);
    }
    qa_head(b);
    const float* logits = b.logits.get();
    for (int64_t r = 0; r < b.batch; ++r)
      for (int64_t s = 0; s < seq; ++s) {
        const bool valid = s < lengths[r];
        start_logits[r * seq + s] = valid ? logits[r * b.seq + s] : kPaddingLogit;
        end_logits[r * seq + s] = valid ? logits[b.m + r * b.seq + s] : kPaddingLogit;
      }
  }

  void qa_head(Bucket& b) {
    const int64_t m = b.m, h = cfg.hidden_size;
    const float* x = b.x.get();
    float* out = b.logits.get();
    timed(b, "other", [&] {
#pragma omp parallel for schedule(static)
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
    });
  }
};

Engine::Engine(const fs::path& path, const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& I = *impl_;
  I.options = options;
  if (options.seq_bucket <= 0) throw Error("EngineOptions::seq_bucket must be positive");
  const ScopedNumThreads threads(options.num_threads);
  I.file = fbm::FbmFile::open(path);
  const fbm::FbmFile& f = *I.file;
  I.cfg = f.config();
  const int64_t h = I.cfg.hidden_size, inter = I.cfg.intermediate_size;
  I.tokenizer = load_file_tokenizer(f);
  if (I.tokenizer->vocab_size() > I.cfg.vocab_size)
    throw Error(path.string() + ": the tokenizer has " + std::to_string(I.tokenizer->vocab_size()) +
                " tokens but the embeddings only " + std::to_string(I.cfg.vocab_size));
  I.embeddings = std::make_unique<layers::Embeddings>(f);
  bool any_int8 = false;
  for (int64_t l = 0; l < I.cfg.num_layers; ++l) {
    Impl::EncoderLayer L;
    auto load = [&](const char* name, int64_t n, int64_t k, const LinearFusion& wanted) {
      auto linear = layers::load_linear(f, l, name, n, k, wanted);
      any_int8 = any_int8 || linear->int8();
      return linear;
    };
    LinearFusion none, residual;
    residual.residual = true;
    L.query = load("query", h, h, none);
    L.key = load("key", h, h, none);
    L.value = load("value", h, h, none);
    L.attention_output = load("attention_output", h, h, residual);
    L.output = load("output", h, inter, residual);
    LinearFusion gelu;
    gelu.gelu = true;
    gelu.output_u8 = L.output->int8();
    gelu.output = L.output->input_quant();
    L.intermediate = load("intermediate", inter, h, gelu);
    const std::string p = fbm::layer_prefix(l);
    L.ln1_gamma = f.array<float>(p + "attention_layer_norm_gamma", {h}).data;
    L.ln1_beta = f.array<float>(p + "attention_layer_norm_beta", {h}).data;
    L.ln2_gamma = f.array<float>(p + "output_layer_norm_gamma", {h}).data;
    L.ln2_beta = f.array<float>(p + "output_layer_norm_beta", {h}).data;
    I.encoder.push_back(std::move(L));
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
    const auto& L = impl_->encoder[l];
    const Linear* ls[] = {L.query.get(), L.key.get(), L.value.get(), L.attention_output.get(), L.intermediate.get(),
                          L.output.get()};
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
