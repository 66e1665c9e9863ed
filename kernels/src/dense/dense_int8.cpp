#include "fastbert/kernels/dense_int8.h"

#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "dense_int8_kernels.h"
#include "fastbert/common/error.h"

namespace fastbert::kernels {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::string impl_name(const dnnl::primitive_desc_base& pd) {
  const char* s = nullptr;
  dnnl_primitive_desc_query(pd.get(), dnnl_query_impl_info_str, 0, &s);
  return std::string("dense_int8_onednn:") + (s ? s : "?");
}

// x ^ 0x80 over a row, 8 bytes at a time. Written byte by byte inside the
// OpenMP loop the compiler kept it scalar (possible aliasing of source and
// destination): 32 % of the primitive's time on Sapphire Rapids with AMX
// (768x768, M = 128, perf), where the matmul itself takes about half.
void flip_sign_bits(const uint8_t* __restrict src, uint8_t* __restrict dst, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    uint64_t v;
    std::memcpy(&v, src + i, 8);
    v ^= 0x8080808080808080ull;
    std::memcpy(dst + i, &v, 8);
  }
  for (; i < count; ++i) dst[i] = uint8_t(src[i] ^ 0x80);
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

struct DenseInt8Primitive::Impl {
  int64_t n = 0, k = 0;
  SpmmDesc desc;
  // The weights of the one implementation this primitive runs: the AMX
  // tile kernel's (desc.isa amx, which the SpmmDesc rules allow only where
  // Linux grants the tiles), the VNNI kernel's (avx512_vnni or
  // avx512_bf16), or oneDNN's (below: n x k, the matmul's source).
  std::unique_ptr<detail::AmxInt8Weights> amx;
  std::unique_ptr<detail::VnniInt8Weights> vnni;
  std::vector<int8_t> weights;
  std::vector<int32_t> row_sums;
  std::vector<float> w_scales;
  // One matmul per (token count, X row stride): the product's N dimension.
  mutable std::mutex mutex;
  mutable std::map<std::pair<int64_t, int64_t>, std::shared_ptr<const std::pair<dnnl::matmul::primitive_desc, dnnl::matmul>>>
      matmuls;
  mutable std::string last_impl;

  std::shared_ptr<const std::pair<dnnl::matmul::primitive_desc, dnnl::matmul>> matmul_for(int64_t m, int64_t ldx) const {
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = matmuls[{m, ldx}];
    if (!slot) {
      const memory::desc src({n, k}, dt::s8, tag::ab);
      const memory::desc wei({k, m}, dt::s8, memory::dims{ldx, 1});
      const memory::desc dst({n, m}, dt::s32, tag::ab);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), cpu_engine());
      slot = std::make_shared<const std::pair<dnnl::matmul::primitive_desc, dnnl::matmul>>(pd, dnnl::matmul(pd));
    }
    last_impl = impl_name(slot->first);
    return slot;
  }

  // The library's own kernels hand their sums to the epilogue a few rows
  // at a time while they are in L1, so no N x M int32 array is written and
  // read back. Residual and output may alias: each row reads its residual
  // values before it writes the same positions. s8_zero_point: the zero
  // point the kernel's sums carry for s8 activations (VNNI stores them as
  // u8 + 128).
  template <class Kernel>
  void execute_own(const SpmmArgs& a, int64_t workspace_bytes, int32_t s8_zero_point, Kernel&& kernel) const {
    const Epilogue& e = desc.epilogue;
    const bool s8 = desc.activation == ActivationType::s8;
    const int32_t zero_point = s8 ? s8_zero_point : a.x_zero_point;
    std::unique_ptr<uint8_t, AlignedFree> quads(
        static_cast<uint8_t*>(std::aligned_alloc(64, size_t((workspace_bytes + 63) / 64 * 64))));
    if (!quads) throw Error("DenseInt8Primitive::execute: out of memory for the quad-layout input");
    const int out_size = output_size(e.output);
    char* y = static_cast<char*>(a.y);
    kernel(quads.get(), s8, [&](int64_t row0, int rows, int64_t t0, int64_t tokens, const int32_t* acc, int64_t ld_acc) {
      for (int r = 0; r < rows; ++r) {
        const int64_t row = row0 + r;
        apply_epilogue(e, acc + r * ld_acc, -zero_point * row_sums[size_t(row)], a.x_scale * w_scales[size_t(row)],
                       a.bias ? a.bias[row] : 0.0f, a.residual ? a.residual + row * a.ldr + t0 : nullptr,
                       y + (row * a.ldy + t0) * out_size, tokens);
      }
    });
  }
};

bool DenseInt8Primitive::exact_at_isa_cap() {
  // Exact where the cap's oneDNN level (cap_onednn_isa in dense_matmul.cpp)
  // has VNNI: avx2_vnni at avx_vnni, avx512_core_vnni and above from
  // avx512_vnni. At avx512bw that level, avx512_core, excludes AVX-VNNI: on
  // Sapphire Rapids, which has both, FASTBERT_ISA=avx512bw gave oneDNN's
  // saturating gemm:jit. Without FASTBERT_ISA the cap is the CPU's best level.
  return isa_cap() == Isa::avx_vnni || isa_allowed(Isa::avx512_vnni);
}

DenseInt8Primitive::DenseInt8Primitive(const int8_t* weights, const float* w_scales, int64_t n, int64_t k,
                                       const SpmmDesc& desc)
    : impl_(std::make_unique<Impl>()) {
  if (!exact_at_isa_cap())
    throw Error(std::string("DenseInt8Primitive: declined at FASTBERT_ISA cap ") + isa_name(isa_cap()) +
                ": oneDNN's int8 matmul without VNNI saturates 16-bit sums");
  if (n <= 0 || k <= 0)
    throw Error("DenseInt8Primitive: shape " + std::to_string(n) + "x" + std::to_string(k) + " must be positive");
  if (!weights || !w_scales) throw Error("DenseInt8Primitive: null weights or scales");
  const Epilogue& e = desc.epilogue;
  if (e.output == OutputType::s32 && e.gelu)
    throw Error("DenseInt8Primitive: GELU needs an fp32 or requantized output, not s32");
  if ((e.output == OutputType::u8 || e.output == OutputType::s8) && !(std::isfinite(e.out_scale) && e.out_scale > 0))
    throw Error("DenseInt8Primitive: output scale " + std::to_string(e.out_scale) + " must be finite and positive");
  if (desc.output_layout != ActivationLayout::feature_major)
    throw Error("DenseInt8Primitive: writes feature-major outputs only");
  for (int64_t r = 0; r < n; ++r)
    if (!(std::isfinite(w_scales[r]) && w_scales[r] > 0))
      throw Error("DenseInt8Primitive: scale of row " + std::to_string(r) + " is " + std::to_string(w_scales[r]) +
                  " (must be finite and positive)");
  Impl& im = *impl_;
  im.n = n;
  im.k = k;
  im.desc = desc;
  require_cpu_isa(desc.isa, "DenseInt8Primitive");
  if (desc.isa >= Isa::amx) {
    im.amx = std::make_unique<detail::AmxInt8Weights>(weights, n, k);
    im.last_impl = "dense_int8_amx";
  } else if (desc.isa >= Isa::avx512_vnni) {
    im.vnni = std::make_unique<detail::VnniInt8Weights>(weights, n, k);
    im.last_impl = "dense_int8_avx512vnni";
  } else {
    im.weights.assign(weights, weights + n * k);
  }
  im.w_scales.assign(w_scales, w_scales + n);
  im.row_sums.assign(size_t(n), 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) im.row_sums[size_t(r)] += weights[r * k + c];
}

DenseInt8Primitive::~DenseInt8Primitive() = default;
DenseInt8Primitive::DenseInt8Primitive(DenseInt8Primitive&&) noexcept = default;
DenseInt8Primitive& DenseInt8Primitive::operator=(DenseInt8Primitive&&) noexcept = default;

void DenseInt8Primitive::prepare(int64_t m) const {
  if (m > 0 && !impl_->amx && !impl_->vnni) impl_->matmul_for(m, m);
}

std::string DenseInt8Primitive::implementation() const {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->last_impl.empty()) return impl_->last_impl;
  }
  impl_->matmul_for(128, 128);
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->last_impl;
}

void DenseInt8Primitive::execute(const SpmmArgs& a) const {
  const Impl& im = *impl_;
  const Epilogue& e = im.desc.epilogue;
  const int64_t n = im.n, k = im.k, m = a.m;
  if (m < 0) throw Error("DenseInt8Primitive::execute: negative token count " + std::to_string(m));
  if (m == 0) return;
  if (!a.y) throw Error("DenseInt8Primitive::execute: null output");
  if (a.ldy < m) throw Error("DenseInt8Primitive::execute: ldy " + std::to_string(a.ldy) + " < m " + std::to_string(m));
  if (!a.x || a.ldx < m)
    throw Error("DenseInt8Primitive::execute: null input or ldx " + std::to_string(a.ldx) + " < m " + std::to_string(m));
  if (a.residual && a.ldr < m)
    throw Error("DenseInt8Primitive::execute: ldr " + std::to_string(a.ldr) + " < m " + std::to_string(m));
  if (e.output == OutputType::s32 && (a.residual || a.bias))
    throw Error("DenseInt8Primitive::execute: s32 output takes no bias or residual");
  if (im.amx) {
    im.execute_own(a, detail::dense_int8_amx_workspace_bytes(*im.amx, m), 0,
                   [&](uint8_t* ws, bool s8, const detail::DenseRowsEpilogue& epi) {
                     detail::dense_int8_amx(*im.amx, a.x, a.ldx, m, s8, ws, epi);
                   });
    return;
  }
  if (im.vnni) {
    im.execute_own(a, detail::dense_int8_vnni_workspace_bytes(*im.vnni, m), 128,
                   [&](uint8_t* ws, bool s8, const detail::DenseRowsEpilogue& epi) {
                     detail::dense_int8_vnni(*im.vnni, a.x, a.ldx, m, s8, ws, epi);
                   });
    return;
  }

  // u8 X is shifted into s8 (x - 128 = x ^ 0x80): sum w (x - 128) = sum w x
  // - 128 rowsum, so the compensation is (128 - zero_point) rowsum.
  const bool u8 = im.desc.activation == ActivationType::u8;
  const int32_t shift = u8 ? 128 - a.x_zero_point : 0;
  std::unique_ptr<int8_t, AlignedFree> shifted;
  const int8_t* xs = static_cast<const int8_t*>(a.x);
  int64_t ldx = a.ldx;
  if (u8) {
    shifted.reset(static_cast<int8_t*>(std::aligned_alloc(64, size_t((k * m + 63) / 64 * 64))));
    if (!shifted) throw Error("DenseInt8Primitive::execute: out of memory for the shifted input");
    const uint8_t* x = static_cast<const uint8_t*>(a.x);
    int8_t* dst = shifted.get();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < k; ++r) flip_sign_bits(x + r * a.ldx, reinterpret_cast<uint8_t*>(dst) + r * m, m);
    xs = dst;
    ldx = m;
  }
  std::unique_ptr<int32_t, AlignedFree> acc(static_cast<int32_t*>(std::aligned_alloc(64, size_t((n * m * 4 + 63) / 64 * 64))));
  if (!acc) throw Error("DenseInt8Primitive::execute: out of memory for " + std::to_string(n) + "x" + std::to_string(m) + " accumulators");

  const auto mm = im.matmul_for(m, ldx);
  auto& eng = cpu_engine();
  memory src(mm->first.src_desc(), eng, const_cast<int8_t*>(im.weights.data()));
  memory wei(mm->first.weights_desc(), eng, const_cast<int8_t*>(xs));
  memory dst(mm->first.dst_desc(), eng, acc.get());
  dnnl::stream s(eng);
  mm->second.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
  s.wait();

  const int out_size = output_size(e.output);
  char* y = static_cast<char*>(a.y);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r)
    apply_epilogue(e, acc.get() + r * m, shift * im.row_sums[size_t(r)], a.x_scale * im.w_scales[size_t(r)],
                   a.bias ? a.bias[r] : 0.0f, a.residual ? a.residual + r * a.ldr : nullptr,
                   y + r * a.ldy * out_size, m);
}

}  // namespace fastbert::kernels
