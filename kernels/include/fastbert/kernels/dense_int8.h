#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/kernels/spmm.h"

namespace fastbert::kernels {

// Y (N x M) = epilogue(W (N x K) x X (K x M)) with every weight kept, on the
// SpMM's feature-major layout and with the SpMM's arguments (SpmmArgs;
// output feature-major only). Two implementations, chosen by SpmmDesc::isa:
//
// * amx ("dense_int8_amx"): the library's own AMX tile kernel. X is
//   reordered per call into the quad layout, which is the tiles' B operand
//   as it is; W is the A operand; the int32 sums leave the tiles 32 rows x
//   32 tokens at a time, feature-major, straight into the epilogue. It
//   replaced oneDNN's AMX matmul posed the other way round, which needed a
//   u8-to-s8 copy of X, oneDNN's own reorder of X and an N x M int32 pass
//   (measured in docs/kernels.md).
// * any level below amx ("dense_int8_onednn:<implementation>"): oneDNN's
//   int8 matmul. oneDNN runs int8 matmuls on feature-major activations taken
//   as a transposed source through a reference loop, so the product is posed
//   the other way round: W is the matmul's source (s8, plain rows) and X its
//   run-time "weights" (s8, plain rows; u8 activations are shifted by 128
//   into a copy, and the shift is folded into the compensation like a zero
//   point).
//
// Both write exact int32 sums and run the SpMM's apply_epilogue on them, so
// the results are the bits of reference_spmm. Threading: construction is
// not thread-safe against use; execute() may be called from several threads
// at once and splits its work over the calling OpenMP team.
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
  // exact_at_isa_cap() is false, or where desc.isa is amx and the CPU does
  // not grant the tiles.
  DenseInt8Primitive(const int8_t* weights, const float* w_scales, int64_t n, int64_t k, const SpmmDesc& desc);
  ~DenseInt8Primitive();
  DenseInt8Primitive(DenseInt8Primitive&&) noexcept;
  DenseInt8Primitive& operator=(DenseInt8Primitive&&) noexcept;

  // Creates the matmul for m tokens now instead of at the first call with m.
  void prepare(int64_t m) const;
  void execute(const SpmmArgs& args) const;

  // "dense_int8_amx", or "dense_int8_onednn:" and oneDNN's implementation
  // for the last token count prepared or run (e.g.
  // "dense_int8_onednn:brg:avx512_core_vnni"); before any, that of a
  // 128-token product.
  std::string implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastbert::kernels
