#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "fastbert/kernels/block_sparse.h"
#include "fastbert/kernels/epilogue.h"
#include "fastbert/kernels/isa.h"

namespace fastbert::kernels {

enum class ActivationType { u8, s8 };

// How an activation tensor of K features x M tokens lies in memory:
// feature_major (K rows of M, the 4x1 family's input and every family's
// default output) or quads ([K/4][M][4], the 1x4 family's input,
// quad_layout.h), which a u8/s8 epilogue of the 1x4 family can write directly.
enum class ActivationLayout { feature_major, quads };

// Y (N_out x M) = epilogue(W_sparse (N_out x K) x X (K x M)).
//
// Activations are feature-major: row k of X holds feature k for all M tokens,
// contiguous. Chaining layers then needs no transposes (Y has the same layout
// as X), and the kernel loads 64 tokens of one gathered input row as one zmm.
struct SpmmDesc {
  ActivationType activation = ActivationType::u8;
  Epilogue epilogue;
  // The highest level of the ISA lattice the primitive may use: it runs the
  // best implementation at or below it (spmm_4x1_kernels()). A level the CPU
  // lacks is refused with unsupported_isa_message.
  Isa isa = isa_cap();
  ActivationLayout output_layout = ActivationLayout::feature_major;
};

// One implementation of the 4x1 family: its level, its name (as
// SpmmPrimitive::implementation() reports it) and the tokens one register
// tile covers. Best first; the primitive, its tests and its benchmark use it.
struct SpmmKernel {
  Isa isa;
  const char* name;
  int tile;
};
const std::vector<SpmmKernel>& spmm_4x1_kernels();

// Any pointers and leading dimensions work; for full speed, X rows should
// start on 64-byte boundaries (aligned x, ldx a multiple of 64), so that each
// 64-token load touches one cache line.
struct SpmmArgs {
  const void* x = nullptr;  // K x M, uint8 or int8 per SpmmDesc::activation
  int64_t ldx = 0;          // elements between rows of X (>= m)
  int64_t m = 0;            // tokens, any value >= 0
  float x_scale = 1.0f;
  int32_t x_zero_point = 0;     // u8 activations only; int8 ones are symmetric
  // N_out, may be null. Its values are read once per (x_scale, x_zero_point,
  // bias address) and reused by later calls: a changed bias needs a new array.
  const float* bias = nullptr;
  const float* residual = nullptr;  // N_out x M fp32, may be null
  int64_t ldr = 0;
  void* y = nullptr;  // N_out x M of the epilogue's output type
  int64_t ldy = 0;
};

// The primitive for one packed weight matrix: created once at load (it checks
// the ISA and fetches the generated code from the process-wide cache), then
// executed any number of times from any number of threads. Each execute()
// splits its work over the OpenMP threads (fastbert::set_num_threads).
class SpmmPrimitive {
 public:
  SpmmPrimitive(std::shared_ptr<const BlockSparseMatrix> weights, const SpmmDesc& desc);
  ~SpmmPrimitive();
  SpmmPrimitive(SpmmPrimitive&&) noexcept;
  SpmmPrimitive& operator=(SpmmPrimitive&&) noexcept;

  void execute(const SpmmArgs& args) const;

  const BlockSparseMatrix& weights() const;
  const SpmmDesc& desc() const;
  // The microkernel family in use, e.g. "spmm_4x1_avx512vnni_jit".
  const char* implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The same operation on 1x4 blocks (BlockSparse1x4Matrix): X is in the quad
// layout, SpmmArgs::ldx counting tokens between quad rows (>= m); Y is
// feature-major (ldy elements between rows) or, for u8/s8 outputs with
// SpmmDesc::output_layout = quads, the quad layout of the next layer's input
// (ldy tokens between quad rows; the last quad's missing rows are zeros). The
// residual is feature-major. Same threading and reuse rules as SpmmPrimitive.
class Spmm1x4Primitive {
 public:
  Spmm1x4Primitive(std::shared_ptr<const BlockSparse1x4Matrix> weights, const SpmmDesc& desc);
  ~Spmm1x4Primitive();
  Spmm1x4Primitive(Spmm1x4Primitive&&) noexcept;
  Spmm1x4Primitive& operator=(Spmm1x4Primitive&&) noexcept;

  void execute(const SpmmArgs& args) const;

  const BlockSparse1x4Matrix& weights() const;
  const SpmmDesc& desc() const;
  // The microkernel in use, e.g. "spmm_1x4_avx512vnni".
  const char* implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastbert::kernels
