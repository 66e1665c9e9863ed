#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/kernels/spmm.h"

namespace fastbert::kernels {

// Y (N x M) = epilogue(W (N x K) x X (K x M)) with every weight kept, on the
// SpMM's feature-major layout and with the SpMM's arguments (SpmmArgs;
// output feature-major only), on the library's own kernels, chosen by
// SpmmDesc::isa:
//
// * amx ("dense_int8_amx"): AMX tiles. X is reordered per call into the
//   quad layout, which is the tiles' B operand as it is; W is the A operand;
//   the int32 sums leave the tiles 32 rows x 32 tokens at a time,
//   feature-major, straight into the epilogue.
// * avx512_vnni, avx512_bf16 ("dense_int8_avx512vnni") and, on a CPU with
//   AVX-VNNI, any level from avx_vnni below them ("dense_int8_avxvnni"): the
//   same quad copy of X, and a VNNI GEMM microkernel on it (8 rows x 48
//   tokens of sums in registers, no shuffles).
// * avx2 and, on a CPU without AVX-VNNI, avx512bw ("dense_int8_avx2"): the
//   same quad copy, widened to int16 in registers once per 4 output rows and
//   multiplied with vpmaddwd (exact; vpmaddubsw would saturate).
//
// They replaced oneDNN's int8 matmul, which runs only token-major inputs at
// speed and was posed the other way round on this layout (a u8-to-s8 copy
// of X, oneDNN's reorder of it, an N x M int32 pass): 1.5-2.3x slower on AMX
// and 1.3-1.4x on VNNI (docs/kernels.md). Integer sums are exact and the
// epilogue is the SpMM's apply_epilogue, so the results are the bits of
// reference_spmm. Threading: construction is not thread-safe against use;
// execute() may be called from several threads at once and splits its work
// over the calling OpenMP team (each thread reorders X into its own copy).
class DenseInt8Primitive {
 public:
  // Whether the primitive builds at the FASTBERT_ISA cap: at every level
  // from avx2 on; at reference it declines (the SpMM runs instead).
  static bool builds_at_isa_cap();
  // The implementation() the primitive would run at `level` on this CPU, ""
  // where it declines: what a caller that picks by kernel (the runtime's
  // crossover sparsity) asks instead of repeating the rule.
  static std::string implementation_at(Isa level);
  // weights: n x k row-major int8; w_scales: n positive values. Throws where
  // desc.isa is one the CPU lacks or has no kernel (see builds_at_isa_cap).
  DenseInt8Primitive(const int8_t* weights, const float* w_scales, int64_t n, int64_t k, const SpmmDesc& desc);
  ~DenseInt8Primitive();
  DenseInt8Primitive(DenseInt8Primitive&&) noexcept;
  DenseInt8Primitive& operator=(DenseInt8Primitive&&) noexcept;

  void execute(const SpmmArgs& args) const;

  // The kernel in use: "dense_int8_amx", "dense_int8_avx512vnni",
  // "dense_int8_avxvnni" or "dense_int8_avx2".
  const std::string& implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastbert::kernels
