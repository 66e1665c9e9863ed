#include "fastbert/kernels/dense_int8.h"

#include <cmath>
#include <cstdlib>

#include "../round_up.h"
#include "dense_int8_kernels.h"
#include "fastbert/common/error.h"

namespace fastbert::kernels {
namespace {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

enum class Kernel { none, amx, avx512_vnni, avx_vnni, avx2 };

// The kernel of `level` on this CPU, the one rule for the constructor,
// builds_at_isa_cap and implementation_at: AMX tiles at amx, zmm VNNI from
// avx512_vnni; below, the ymm VNNI kernel where the CPU has AVX-VNNI, else
// the AVX2 one (also at avx512bw: no zmm kernel without vpdpbusd); none at
// reference.
Kernel kernel_at(Isa level) {
  if (level >= Isa::amx) return Kernel::amx;
  if (level >= Isa::avx512_vnni) return Kernel::avx512_vnni;
  if (level >= Isa::avx_vnni && cpu_supports(Isa::avx_vnni)) return Kernel::avx_vnni;
  if (level >= Isa::avx2) return Kernel::avx2;
  return Kernel::none;
}

const char* kernel_name(Kernel kernel) {
  switch (kernel) {
    case Kernel::amx: return "dense_int8_amx";
    case Kernel::avx512_vnni: return "dense_int8_avx512vnni";
    case Kernel::avx_vnni: return "dense_int8_avxvnni";
    case Kernel::avx2: return "dense_int8_avx2";
    case Kernel::none: break;
  }
  return "";
}

}  // namespace

struct DenseInt8Primitive::Impl {
  SpmmDesc desc;
  Kernel kernel = Kernel::none;
  // The weights of the one kernel this primitive runs: the AMX tiles' (cap
  // amx), the VNNI kernels' (avx512_vnni and avx512_bf16 on zmm; below,
  // AVX-VNNI on ymm) or the AVX2 kernel's.
  std::unique_ptr<detail::AmxInt8Weights> amx;
  std::unique_ptr<detail::VnniInt8Weights> vnni;
  std::unique_ptr<detail::Avx2Int8Weights> avx2;
  std::string name;
  std::vector<int32_t> row_sums;
  std::vector<float> w_scales;

  // The kernels hand their sums to the epilogue a few rows at a time while
  // they are in L1, so no N x M int32 array is written and read back.
  // Residual and output may alias: each row reads its residual values
  // before it writes the same positions. s8_zero_point: the zero point the
  // kernel's sums carry for s8 activations (the VNNI and AVX2 kernels store
  // them as u8 + 128).
  template <class Kernel>
  void run(const SpmmArgs& a, int64_t workspace_bytes, int32_t s8_zero_point, Kernel&& kernel) const {
    const Epilogue& e = desc.epilogue;
    const bool s8 = desc.activation == ActivationType::s8;
    const int32_t zero_point = s8 ? s8_zero_point : a.x_zero_point;
    std::unique_ptr<uint8_t, AlignedFree> quads(
        static_cast<uint8_t*>(std::aligned_alloc(64, size_t(detail::round_up(workspace_bytes, 64)))));
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

bool DenseInt8Primitive::builds_at_isa_cap() { return kernel_at(isa_cap()) != Kernel::none; }

std::string DenseInt8Primitive::implementation_at(Isa level) { return kernel_name(kernel_at(level)); }

DenseInt8Primitive::DenseInt8Primitive(const int8_t* weights, const float* w_scales, int64_t n, int64_t k,
                                       const SpmmDesc& desc)
    : impl_(std::make_unique<Impl>()) {
  require_cpu_isa(desc.isa, "DenseInt8Primitive");
  const Kernel kernel = kernel_at(desc.isa);
  if (kernel == Kernel::none)
    throw Error(std::string("DenseInt8Primitive: declined at ISA level ") + isa_name(desc.isa) +
                ": its kernels need avx2 or above");
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
  im.desc = desc;
  im.kernel = kernel;
  im.name = kernel_name(kernel);
  if (kernel == Kernel::amx)
    im.amx = std::make_unique<detail::AmxInt8Weights>(weights, n, k);
  else if (kernel == Kernel::avx2)
    im.avx2 = std::make_unique<detail::Avx2Int8Weights>(weights, n, k);
  else
    im.vnni = std::make_unique<detail::VnniInt8Weights>(weights, n, k);
  im.w_scales.assign(w_scales, w_scales + n);
  im.row_sums.assign(size_t(n), 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) im.row_sums[size_t(r)] += weights[r * k + c];
}

DenseInt8Primitive::~DenseInt8Primitive() = default;
DenseInt8Primitive::DenseInt8Primitive(DenseInt8Primitive&&) noexcept = default;
DenseInt8Primitive& DenseInt8Primitive::operator=(DenseInt8Primitive&&) noexcept = default;

const std::string& DenseInt8Primitive::implementation() const { return impl_->name; }

void DenseInt8Primitive::execute(const SpmmArgs& a) const {
  const Impl& im = *impl_;
  const Epilogue& e = im.desc.epilogue;
  const int64_t m = a.m;
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
    // TDPBSSD multiplies s8 by s8 directly: no zero point for s8 inputs.
    im.run(a, detail::dense_int8_amx_workspace_bytes(*im.amx, m), 0,
           [&](uint8_t* ws, bool s8, const detail::DenseRowsEpilogue& epi) {
             detail::dense_int8_amx(*im.amx, a.x, a.ldx, m, s8, ws, epi);
           });
    return;
  }
  if (im.avx2) {
    im.run(a, detail::dense_int8_quad_workspace_bytes(im.avx2->quads(), m), 128,
           [&](uint8_t* ws, bool s8, const detail::DenseRowsEpilogue& epi) {
             detail::dense_int8_avx2(*im.avx2, a.x, a.ldx, m, s8, ws, epi);
           });
    return;
  }
  im.run(a, detail::dense_int8_quad_workspace_bytes(im.vnni->quads(), m), 128,
         [&](uint8_t* ws, bool s8, const detail::DenseRowsEpilogue& epi) {
           if (im.kernel == Kernel::avx512_vnni)
             detail::dense_int8_avx512vnni(*im.vnni, a.x, a.ldx, m, s8, ws, epi);
           else
             detail::dense_int8_avxvnni(*im.vnni, a.x, a.ldx, m, s8, ws, epi);
         });
}

}  // namespace fastbert::kernels
