#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/kernels/spmm.h"

namespace fastbert::kernels {

// Y (N x M) = epilogue(W (N x K) x X (K x M)) with every weight kept, on
// oneDNN's int8 matmul (brgemm: AMX tiles where the CPU has them and oneDNN
// may use them, AVX512-VNNI otherwise), on the SpMM's feature-major layout
// and with the SpMM's arguments (SpmmArgs; output feature-major only).
//
// oneDNN runs int8 matmuls on feature-major activations taken as a
// transposed source through a reference loop, so the product is posed the
// other way round: W is the matmul's source (s8, plain rows) and X its
// run-time "weights" (s8, plain rows; u8 activations are shifted by 128
// into a copy, and the shift is folded into the compensation like a zero
// point). oneDNN writes exact int32 accumulators and the epilogue is the
// SpMM's apply_epilogue, so the results are the bits of reference_spmm on
// any ISA oneDNN picks.
class DenseInt8Primitive {
 public:
  // Whether the primitive is exact at the FASTBERT_ISA cap: oneDNN's int8
  // matmul below VNNI multiplies with vpmaddubsw, whose 16-bit pair sums
  // saturate on full-range u8 x s8 (5379 where the integer product is 2931,
  // seen at avx2 on Zen 4), so where oneDNN gets no VNNI or AMX it is
  // declined: below avx_vnni, and at avx512bw (oneDNN's avx512_core excludes
  // AVX-VNNI, which Sapphire Rapids has).
  static bool exact_at_isa_cap();
  // weights: n x k row-major int8; w_scales: n positive values. Throws where
  // exact_at_isa_cap() is false.
  DenseInt8Primitive(const int8_t* weights, const float* w_scales, int64_t n, int64_t k, const SpmmDesc& desc);
  ~DenseInt8Primitive();
  DenseInt8Primitive(DenseInt8Primitive&&) noexcept;
  DenseInt8Primitive& operator=(DenseInt8Primitive&&) noexcept;

  // Creates the matmul for m tokens now instead of at the first call with m.
  void prepare(int64_t m) const;
  void execute(const SpmmArgs& args) const;

  // "onednn_int8:" and oneDNN's implementation for the last token count
  // prepared or run (e.g. "onednn_int8:brg:avx512_core_vnni"); before any,
  // that of a 128-token product.
  std::string implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether oneDNN runs this process's int8 matmuls on AMX tiles (asked once,
// from the implementation it picks for a small product; DNNL_MAX_CPU_ISA
// and the CPU decide).
bool onednn_int8_uses_amx();

}  // namespace fastbert::kernels
