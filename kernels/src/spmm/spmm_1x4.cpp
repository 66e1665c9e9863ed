// The 1x4 block-sparse SpMM primitive: argument checks, per-row epilogue
// terms, threading over (token tile, row chunk), and the epilogue applied to
// each row's accumulators while they are in L1. The inner loops are the
// microkernels of spmm_1x4_microkernels.h, one per ISA level.
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
#include "fastbert/kernels/quad_layout.h"
#include "fastbert/kernels/spmm.h"
#include "spmm_1x4_microkernels.h"

namespace fastbert::kernels {
namespace {

// Per-row epilogue terms of one (input quantization, bias) pair, kept for
// later calls with the same pair (see SpmmArgs::bias).
struct Terms1x4 {
  float x_scale = 0;
  int32_t zero_point = 0;
  const float* bias_source = nullptr;
  std::vector<int32_t> acc_init;  // -zero_point * rowsum(W[r])
  std::vector<float> scale, bias;
};

// Rows per unit of parallel work: enough to amortise the scheduling, few
// enough that 2 threads get even shares of a 768-row layer.
constexpr int64_t kRowChunk = 16;

}  // namespace

struct Spmm1x4Primitive::Impl {
  std::shared_ptr<const Terms1x4> terms;  // atomic_load / atomic_store
  std::shared_ptr<const BlockSparse1x4Matrix> w;
  SpmmDesc desc;
  Spmm1x4Microkernel micro = nullptr;
  const char* name = "";
};

Spmm1x4Primitive::Spmm1x4Primitive(std::shared_ptr<const BlockSparse1x4Matrix> weights, const SpmmDesc& desc)
    : impl_(std::make_unique<Impl>()) {
  if (!weights) throw Error("Spmm1x4Primitive: null weights");
  check_1x4(*weights, "Spmm1x4Primitive");
  const Epilogue& e = desc.epilogue;
  if (e.output == OutputType::s32 && e.gelu)
    throw Error("Spmm1x4Primitive: GELU needs an fp32 or requantized output, not s32");
  if ((e.output == OutputType::u8 || e.output == OutputType::s8) && !(std::isfinite(e.out_scale) && e.out_scale > 0))
    throw Error("Spmm1x4Primitive: output scale " + std::to_string(e.out_scale) + " must be finite and positive");
  if (desc.output_layout == ActivationLayout::quads && e.output != OutputType::u8 && e.output != OutputType::s8)
    throw Error("Spmm1x4Primitive: the quad layout is for u8/s8 outputs (the next layer's input), not s32/f32");
  require_cpu_isa(desc.isa, "Spmm1x4Primitive");
  impl_->w = std::move(weights);
  impl_->desc = desc;
  for (const Spmm1x4MicrokernelEntry& k : kSpmm1x4Microkernels)
    if (!impl_->micro && k.isa <= desc.isa && cpu_supports(k.isa)) impl_->micro = k.fn, impl_->name = k.name;
}

Spmm1x4Primitive::~Spmm1x4Primitive() = default;
Spmm1x4Primitive::Spmm1x4Primitive(Spmm1x4Primitive&&) noexcept = default;
Spmm1x4Primitive& Spmm1x4Primitive::operator=(Spmm1x4Primitive&&) noexcept = default;
const BlockSparse1x4Matrix& Spmm1x4Primitive::weights() const { return *impl_->w; }
const SpmmDesc& Spmm1x4Primitive::desc() const { return impl_->desc; }
const char* Spmm1x4Primitive::implementation() const { return impl_->name; }

void Spmm1x4Primitive::execute(const SpmmArgs& a) const {
  const BlockSparse1x4Matrix& w = *impl_->w;
  const SpmmDesc& desc = impl_->desc;
  const Epilogue& e = desc.epilogue;
  const int64_t n = w.rows, k = w.cols, m = a.m;
  const bool quads_out = desc.output_layout == ActivationLayout::quads;
  if (m < 0) throw Error("Spmm1x4Primitive::execute: negative token count " + std::to_string(m));
  if (m == 0 || n == 0) return;
  if (!a.y) throw Error("Spmm1x4Primitive::execute: null output");
  if (a.ldy < m) throw Error("Spmm1x4Primitive::execute: ldy " + std::to_string(a.ldy) + " < m " + std::to_string(m));
  if (k > 0 && (!a.x || a.ldx < m))
    throw Error("Spmm1x4Primitive::execute: null input or ldx " + std::to_string(a.ldx) + " < m " + std::to_string(m));
  if (a.residual && a.ldr < m)
    throw Error("Spmm1x4Primitive::execute: ldr " + std::to_string(a.ldr) + " < m " + std::to_string(m));
  if (e.output == OutputType::s32 && (a.residual || a.bias))
    throw Error("Spmm1x4Primitive::execute: s32 output takes no bias or residual");

  // vpdpbusd multiplies unsigned activations: int8 ones are shifted by 128
  // (x ^ 0x80) into a copy, and the shift is corrected like a zero point.
  const bool s8 = desc.activation == ActivationType::s8;
  const int32_t zero_point = s8 ? 128 : a.x_zero_point;
  const uint8_t* x = static_cast<const uint8_t*>(a.x);
  int64_t ldq = a.ldx;
  std::unique_ptr<uint8_t, decltype(&std::free)> shifted(nullptr, &std::free);
  if (s8 && k > 0) {
    const size_t bytes = size_t(quad_layout_bytes(k, m));
    shifted.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
    if (!shifted) throw Error("Spmm1x4Primitive::execute: out of memory for the shifted int8 input");
    for (int64_t q = 0; q < quad_rows(k); ++q) {
      const uint8_t* src = x + q * a.ldx * 4;
      uint8_t* dst = shifted.get() + q * m * 4;
      for (int64_t i = 0; i < m * 4; ++i) dst[i] = uint8_t(src[i] ^ 0x80);
    }
    x = shifted.get();
    ldq = m;
  }

  std::shared_ptr<const Terms1x4> terms = std::atomic_load(&impl_->terms);
  if (!terms || terms->x_scale != a.x_scale || terms->zero_point != zero_point || terms->bias_source != a.bias) {
    auto t = std::make_shared<Terms1x4>();
    t->x_scale = a.x_scale;
    t->zero_point = zero_point;
    t->bias_source = a.bias;
    t->acc_init.resize(size_t(n));
    t->scale.resize(size_t(n));
    t->bias.resize(size_t(n));
    for (int64_t r = 0; r < n; ++r) {
      t->acc_init[size_t(r)] = -zero_point * w.row_sums[size_t(r)];
      t->scale[size_t(r)] = a.x_scale * w.scales[size_t(r)];
      t->bias[size_t(r)] = a.bias ? a.bias[r] : 0.0f;
    }
    terms = t;
    std::atomic_store(&impl_->terms, terms);
  }
  const Terms1x4& tr = *terms;
  const int out_size = output_size(e.output);
  char* y = static_cast<char*>(a.y);
  const Spmm1x4Microkernel micro = impl_->micro;

  const int64_t tiles = (m + kSpmm1x4MaxTokens - 1) / kSpmm1x4MaxTokens;
  const int64_t row_chunks = (n + kRowChunk - 1) / kRowChunk;
  // Tile-major: with several tiles per thread each thread keeps to its own
  // tokens (its part of X stays in its core's caches); a single tile (M <=
  // 128) is split by rows.
#pragma omp parallel
  {
    alignas(64) int32_t acc[kSpmm1x4MaxTokens];
    alignas(64) uint8_t requantized[kSpmm1x4MaxTokens];
#pragma omp for schedule(static) collapse(2)
    for (int64_t tile = 0; tile < tiles; ++tile)
      for (int64_t chunk = 0; chunk < row_chunks; ++chunk) {
        const int64_t m0 = tile * kSpmm1x4MaxTokens, mc = std::min(kSpmm1x4MaxTokens, m - m0);
        Spmm1x4RowTask t;
        t.x = x + m0 * 4;
        t.ldq_bytes = ldq * 4;
        t.m = mc;
        t.acc = acc;
        for (int64_t r = chunk * kRowChunk; r < std::min(n, (chunk + 1) * kRowChunk); ++r) {
          const int64_t b0 = w.row_block_begin[size_t(r)];
          t.quads = w.quads.data() + b0;
          t.values = w.values.data() + 4 * b0;
          t.blocks = w.row_block_begin[size_t(r + 1)] - b0;
          t.acc_init = tr.acc_init[size_t(r)];
          micro(t);
          const float* residual = a.residual ? a.residual + r * a.ldr + m0 : nullptr;
          if (!quads_out) {
            apply_epilogue(e, acc, 0, tr.scale[size_t(r)], tr.bias[size_t(r)], residual,
                           y + (r * a.ldy + m0) * out_size, mc);
            continue;
          }
          apply_epilogue(e, acc, 0, tr.scale[size_t(r)], tr.bias[size_t(r)], residual, requantized, mc);
          uint8_t* out = reinterpret_cast<uint8_t*>(y) + ((r / 4) * a.ldy + m0) * 4 + r % 4;
          for (int64_t i = 0; i < mc; ++i) out[i * 4] = requantized[i];
          // The last quad's rows past N are zeros, as reorder_to_quads writes them.
          if (r == n - 1)
            for (int64_t pad = r % 4 + 1; pad < 4; ++pad)
              for (int64_t i = 0; i < mc; ++i) out[i * 4 + (pad - r % 4)] = 0;
        }
      }
  }
}

}  // namespace fastbert::kernels
