#include "fastbert/kernels/spmm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "spmm_4x1_avx512vnni_jit.h"
#include "spmm_4x1_microkernels.h"

namespace fastbert::kernels {
namespace {

void check_weights(const BlockSparseMatrix& w) {
  const int64_t groups = w.groups();
  if (w.rows < 0 || w.cols < 0 || int64_t(w.group_chunk_begin.size()) != groups + 1 ||
      int64_t(w.columns.size()) != w.chunks() * 4 + BlockSparseMatrix::kSentinelColumns || int64_t(w.values.size()) != w.chunks() * 16 ||
      int64_t(w.scales.size()) != w.rows || int64_t(w.row_sums.size()) != w.rows)
    throw Error("SpmmPrimitive: inconsistent BlockSparseMatrix (" + std::to_string(w.rows) + "x" +
                std::to_string(w.cols) + ", " + std::to_string(w.chunks()) + " chunks)");
  for (int64_t g = 0; g < groups; ++g)
    if (w.group_chunk_begin[g + 1] < w.group_chunk_begin[g])
      throw Error("SpmmPrimitive: chunk offsets of group " + std::to_string(g) + " decrease");
  for (int32_t c : w.columns)
    if (c < 0 || c >= w.cols)
      throw Error("SpmmPrimitive: column index " + std::to_string(c) + " outside [0, " + std::to_string(w.cols) + ")");
}

}  // namespace

// Per-row epilogue terms of one (input quantization, bias) pair, padded to
// whole groups. A layer calls with the same pair every time, so they are
// computed once and shared by every later call, from any thread.
struct RowTerms {
  float x_scale = 0;
  int32_t zero_point = 0;
  const float* bias_source = nullptr;
  std::vector<int32_t> acc_init;  // -zero_point * rowsum(W[r])
  std::vector<float> scale, bias;  // x_scale * w_scale[r], bias[r]
};

struct SpmmPrimitive::Impl {
  std::shared_ptr<const RowTerms> row_terms;  // the last pair seen (atomic_load / atomic_store)
  std::shared_ptr<const BlockSparseMatrix> w;
  SpmmDesc desc;
  Spmm4x1Microkernel micro = nullptr;
  std::vector<int32_t> pairs;  // the weights as int16 pairs, for a microkernel that takes them
  // The JIT kernels of this epilogue: [residual][streaming stores].
  Spmm4x1JitFn jit[2][2] = {};
  std::unique_ptr<Spmm4x1JitConstants> jit_constants;
  const char* name = "";
};

namespace {

// The 4x1 family, best first: a null microkernel is the JIT. int16_pairs:
// the microkernel reads Spmm4x1GroupTask::pairs, packed at construction.
struct Spmm4x1Kernel {
  SpmmKernel info;
  Spmm4x1Microkernel micro;
  bool int16_pairs;
};
const std::vector<Spmm4x1Kernel>& spmm_4x1_table() {
  static const std::vector<Spmm4x1Kernel> table = {
      {{Isa::avx512_vnni, "spmm_4x1_avx512vnni_jit", kSpmm4x1JitTile}, nullptr, false},
      {{Isa::avx512bw, "spmm_4x1_avx512bw", 64}, spmm_4x1_avx512bw, false},
      {{Isa::avx_vnni, "spmm_4x1_avxvnni", 32}, spmm_4x1_avxvnni, false},
      {{Isa::avx2, "spmm_4x1_avx2", 32}, spmm_4x1_avx2, true},
      {{Isa::reference, "spmm_4x1_reference", 1}, spmm_4x1_reference, false},
  };
  return table;
}

// The best entry at or below `cap` that the CPU supports (the reference always is).
const Spmm4x1Kernel& spmm_4x1_kernel_for(Isa cap) {
  for (const Spmm4x1Kernel& k : spmm_4x1_table())
    if (k.info.isa <= cap && cpu_supports(k.info.isa)) return k;
  return spmm_4x1_table().back();
}

}  // namespace

const std::vector<SpmmKernel>& spmm_4x1_kernels() {
  static const std::vector<SpmmKernel> infos = [] {
    std::vector<SpmmKernel> out;
    for (const Spmm4x1Kernel& k : spmm_4x1_table()) out.push_back(k.info);
    return out;
  }();
  return infos;
}

SpmmPrimitive::SpmmPrimitive(std::shared_ptr<const BlockSparseMatrix> weights, const SpmmDesc& desc)
    : impl_(std::make_unique<Impl>()) {
  if (!weights) throw Error("SpmmPrimitive: null weights");
  check_weights(*weights);
  const Epilogue& e = desc.epilogue;
  if (e.output == OutputType::s32 && e.gelu)
    throw Error("SpmmPrimitive: GELU needs an fp32 or requantized output, not s32");
  if ((e.output == OutputType::u8 || e.output == OutputType::s8) && !(std::isfinite(e.out_scale) && e.out_scale > 0))
    throw Error("SpmmPrimitive: output scale " + std::to_string(e.out_scale) + " must be finite and positive");
  require_cpu_isa(desc.isa, "SpmmPrimitive");
  if (desc.output_layout != ActivationLayout::feature_major)
    throw Error("SpmmPrimitive: the 4x1 family writes feature-major outputs only (the quad layout is the 1x4 family's)");
  impl_->w = std::move(weights);
  impl_->desc = desc;
  const Spmm4x1Kernel& kernel = spmm_4x1_kernel_for(desc.isa);
  impl_->micro = kernel.micro;
  impl_->name = kernel.info.name;
  if (kernel.int16_pairs) impl_->pairs = pack_4x1_int16_pairs(impl_->w->values.data(), impl_->w->chunks());
  if (!kernel.micro) {
    // A residual is a per-call argument: both variants are generated.
    for (int residual = 0; residual < 2; ++residual)
      for (int streaming = 0; streaming < 2; ++streaming) {
        Spmm4x1JitEpilogue je;
        je.output = e.output;
        je.gelu = e.gelu;
        je.residual = residual && e.output != OutputType::s32;
        je.streaming = streaming && e.output == OutputType::f32;
        impl_->jit[residual][streaming] = spmm_4x1_avx512vnni_jit(je);
      }
    impl_->jit_constants = std::make_unique<Spmm4x1JitConstants>(e);
  }
}

SpmmPrimitive::~SpmmPrimitive() = default;
SpmmPrimitive::SpmmPrimitive(SpmmPrimitive&&) noexcept = default;
SpmmPrimitive& SpmmPrimitive::operator=(SpmmPrimitive&&) noexcept = default;
const BlockSparseMatrix& SpmmPrimitive::weights() const { return *impl_->w; }
const SpmmDesc& SpmmPrimitive::desc() const { return impl_->desc; }
const char* SpmmPrimitive::implementation() const { return impl_->name; }

void SpmmPrimitive::execute(const SpmmArgs& a) const {
  const BlockSparseMatrix& w = *impl_->w;
  const Epilogue& e = impl_->desc.epilogue;
  const int64_t n = w.rows, k = w.cols, m = a.m;
  if (m < 0) throw Error("SpmmPrimitive::execute: negative token count " + std::to_string(m));
  if (m == 0 || n == 0) return;
  if (!a.y) throw Error("SpmmPrimitive::execute: null output");
  if (a.ldy < m) throw Error("SpmmPrimitive::execute: ldy " + std::to_string(a.ldy) + " < m " + std::to_string(m));
  if (k > 0 && (!a.x || a.ldx < m))
    throw Error("SpmmPrimitive::execute: null input or ldx " + std::to_string(a.ldx) + " < m " + std::to_string(m));
  if (a.residual && a.ldr < m)
    throw Error("SpmmPrimitive::execute: ldr " + std::to_string(a.ldr) + " < m " + std::to_string(m));
  if (e.output == OutputType::s32 && (a.residual || a.bias))
    throw Error("SpmmPrimitive::execute: s32 output takes no bias or residual");

  const uint8_t* x = static_cast<const uint8_t*>(a.x);
  // vpdpbusd multiplies unsigned activations: int8 ones are shifted by 128
  // (x ^ 0x80) while copied, and the shift is corrected like a zero point.
  const bool s8 = impl_->desc.activation == ActivationType::s8;
  const uint8_t flip = s8 ? 0x80 : 0x00;
  const int32_t zero_point = s8 ? 128 : a.x_zero_point;

  const int64_t groups = w.groups();
  std::shared_ptr<const RowTerms> terms = std::atomic_load(&impl_->row_terms);
  // The bias is compared by address: the caller's bias array must not change
  // between calls (a layer's bias is a constant of the model).
  if (!terms || terms->x_scale != a.x_scale || terms->zero_point != zero_point || terms->bias_source != a.bias) {
    auto t = std::make_shared<RowTerms>();
    t->x_scale = a.x_scale;
    t->zero_point = zero_point;
    t->bias_source = a.bias;
    t->acc_init.assign(size_t(groups * 4), 0);
    t->scale.assign(size_t(groups * 4), 0.0f);
    t->bias.assign(size_t(groups * 4), 0.0f);
    for (int64_t r = 0; r < n; ++r) {
      t->acc_init[r] = -zero_point * w.row_sums[r];
      t->scale[r] = a.x_scale * w.scales[r];
      t->bias[r] = a.bias ? a.bias[r] : 0.0f;
    }
    terms = t;
    std::atomic_store(&impl_->row_terms, terms);
  }
  const std::vector<int32_t>& acc_init = terms->acc_init;
  const std::vector<float>& scale = terms->scale;
  const std::vector<float>& bias = terms->bias;

  // Long inputs run in token blocks, each copied into a contiguous buffer
  // first: every group then gathers its rows from a block that stays in L2
  // (about 1 MiB of it), and rows spread over the cache sets (the caller's
  // stride is often a power of two, which maps all rows of a column to the
  // same few sets). Blocks are as long as that budget allows, because short
  // blocks cut every output row into short segments, which stores badly
  // (measured: 1024 tokens beat 256 by 2x for K = 1024, the reverse for
  // K = 4096). An input that fits in 1.5 MiB is used in place, in one block:
  // copying it costs more than it saves (measured: K = 1536, M = 1024, 2
  // threads: 0.54 ms blocked, 0.42 ms in place). Int8 inputs are copied (and
  // shifted) at any length.
  constexpr int64_t kBlockBudget = int64_t(1) << 20;
  constexpr int64_t kInPlaceBudget = int64_t(3) << 19;
  const int64_t m_block =
      m <= 512 || k * m <= kInPlaceBudget
          ? m
          : std::min(m, std::max<int64_t>(256, kBlockBudget / std::max<int64_t>(k, 1) / 64 * 64));
  const int64_t blocks = (m + m_block - 1) / m_block;
  const bool copy = s8 || blocks > 1;
  const int64_t ld_block = (m_block + 63) / 64 * 64;
  std::unique_ptr<uint8_t, decltype(&std::free)> block_buf(nullptr, &std::free);
  if (copy) {
    block_buf.reset(static_cast<uint8_t*>(std::aligned_alloc(64, size_t(std::max<int64_t>(1, k) * ld_block))));
    if (!block_buf)
      throw Error("SpmmPrimitive::execute: out of memory for a " + std::to_string(k) + "x" +
                  std::to_string(ld_block) + " activation block");
  }
  const int out_size = output_size(e.output);
  char* y = static_cast<char*>(a.y);
  const Impl& impl = *impl_;
  // Outputs much larger than L2 are written with streaming stores when the
  // rows are 64-byte aligned, saving the read for ownership of ordinary
  // stores (measured: 5-10 % on BERT shapes with M = 4096).
  constexpr int64_t kStreamingBytes = int64_t(8) << 20;
  const bool streaming = e.output == OutputType::f32 && n * m * 4 >= kStreamingBytes && a.ldy % 16 == 0 &&
                         reinterpret_cast<uintptr_t>(a.y) % 64 == 0;
  const Spmm4x1JitFn jit = impl.jit[a.residual ? 1 : 0][streaming ? 1 : 0];

  // One 4-row group over tokens [m_begin, m_begin + mc), read from xb.
  auto run_group = [&](int64_t g, const uint8_t* xb, int64_t ldxb, int64_t m_begin, int64_t mc,
                       std::vector<int32_t>& scratch) {
    const int64_t rows = std::min<int64_t>(4, n - 4 * g);
    const int64_t chunk0 = w.group_chunk_begin[g];
    char* y_group = y + (4 * g * a.ldy + m_begin) * out_size;
    const float* residual_group = a.residual ? a.residual + 4 * g * a.ldr + m_begin : nullptr;
    if (jit) {
      Spmm4x1JitArgs j{};
      j.x = xb;
      j.ldx = ldxb;
      j.columns = w.columns.data() + 4 * chunk0;
      j.values = w.values.data() + 16 * chunk0;
      j.chunks = w.group_chunk_begin[g + 1] - chunk0;
      j.y = y_group;
      j.ldy_bytes = a.ldy * out_size;
      j.residual = residual_group;
      j.ldr_bytes = a.ldr * 4;
      j.constants = impl.jit_constants->values;
      j.full_tiles = mc / kSpmm4x1JitTile;
      const int64_t tail = mc % kSpmm4x1JitTile;
      j.tail_load_mask = tail ? (uint64_t(1) << tail) - 1 : 0;
      for (int v = 0; v < 4; ++v) {
        const int64_t valid = std::clamp<int64_t>(tail - 16 * v, 0, 16);
        j.tail_store_mask[v] = uint16_t((uint32_t(1) << valid) - 1);
      }
      j.acc_init = acc_init.data() + 4 * g;
      j.scale = scale.data() + 4 * g;
      j.bias = bias.data() + 4 * g;
      j.rows = rows;
      jit(&j);
    } else {
      Spmm4x1GroupTask t;
      t.x = xb;
      t.ldx = ldxb;
      t.m = mc;
      t.columns = w.columns.data() + 4 * chunk0;
      t.values = w.values.data() + 16 * chunk0;
      t.pairs = impl.pairs.empty() ? nullptr : impl.pairs.data() + 8 * chunk0;
      t.chunks = w.group_chunk_begin[g + 1] - chunk0;
      t.acc_init = acc_init.data() + 4 * g;
      t.acc = scratch.data();
      t.ld_acc = m_block;
      impl.micro(t);
      for (int64_t r = 0; r < rows; ++r)
        apply_epilogue(e, scratch.data() + r * m_block, 0, scale[4 * g + r], bias[4 * g + r],
                       residual_group ? residual_group + r * a.ldr : nullptr, y_group + r * a.ldy * out_size,
                       mc);
    }
  };

  // Threads share out the 4-row groups of each block (dynamic: rows hold
  // different numbers of blocks), each over all the block's tokens. Splitting
  // an in-place input by tokens instead (every group over each thread's own
  // token range), which was meant to keep each thread's X and Y in its own
  // core's caches for the next op, measured no faster at the model level and
  // much slower at M = 384 (Zen 4, 2 threads, 90 %, 768x768 M = 384: 0.069-
  // 0.186 ms split by tokens, 0.063-0.086 by groups; 768x3072: 0.435-0.632
  // against 0.275-0.421; a MiniLM-shaped 90 % model at batch 8, seq 384:
  // 177-186 against 189-193 sequences/s), so it was deleted.
  // About 0.02 ns per nonzero multiply-add on one core (vpdpbusd, 4x1 blocks).
  const int max_threads = threads_for_work(0.02 * double(w.chunks() * 16 * m));
#pragma omp parallel num_threads(max_threads)
  {
    std::vector<int32_t> scratch(jit ? 0 : size_t(4 * m_block));
    const int64_t grain = std::max<int64_t>(1, groups / (int64_t(omp_get_num_threads()) * 8));
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t m_begin = block * m_block;
      const int64_t mc = std::min(m_block, m - m_begin);
      const uint8_t* xb = x + m_begin;
      int64_t ldxb = a.ldx;
      if (copy) {
        uint8_t* buf = block_buf.get();
#pragma omp for schedule(static)
        for (int64_t r = 0; r < k; ++r) {
          const uint8_t* __restrict src = x + r * a.ldx + m_begin;
          uint8_t* __restrict dst = buf + r * ld_block;
          if (flip)
            for (int64_t i = 0; i < mc; ++i) dst[i] = uint8_t(src[i] ^ 0x80);
          else
            std::memcpy(dst, src, size_t(mc));
        }
        xb = buf;
        ldxb = ld_block;
      }
#pragma omp for schedule(dynamic, grain)
      for (int64_t g = 0; g < groups; ++g) run_group(g, xb, ldxb, m_begin, mc, scratch);
    }
  }
}

}  // namespace fastbert::kernels
