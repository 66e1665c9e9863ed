#pragma once
#include <cstddef>
#include <cstdint>

#include <vector>

#include "fastbert/kernels/attention_path.h"
#include "fastbert/kernels/isa.h"

namespace fastbert {

// Scaled dot-product attention of BERT, multi-head, on feature-major
// activations: a matrix [features][tokens] whose token index is m = b*S + s
// (batch b, position s) and whose row stride is ld >= B*S. Head h of Q, K, V
// and of the output is rows h*head_dim .. h*head_dim+head_dim-1.
//
// For every batch row b and head h, with L = valid_lengths[b]:
//   P = softmax(scale * Q_hᵀ K_h) over the keys s < L (keys s >= L get weight 0)
//   O_h = V_h Pᵀ                 written for the queries s < L
// Padded queries (s >= L) are written as 0 (the zero point in out_u8), so
// the output never holds NaN.
//
// Per block of 16 (AMX: 32) queries the scores of all valid keys stay in L1
// and the softmax takes two passes over them, never three: the fp32 paths
// carry the running sum of exponentials as a (value, exponent) pair while
// computing the scores, then normalise and multiply into V; the bf16 and
// int8 paths take the max in pass 1, form each exponential once in pass 2
// and divide the output by the sum as it is stored (attention_bf16_amx.cpp,
// attention_bf16_avx512bf16.cpp and attention_int8_avx512vnni.cpp have the
// measurements; int8_avx2 gives int8_avx512vnni's bits without VNNI).
//
// A precaution, not measured on a quiet machine: when B*S*4 bytes is a
// multiple of 4 KiB, a slightly wider ld (B*S + 16) keeps the rows of a head
// from all mapping to the same L1 sets.

struct AttentionShape {
  int batch = 1;
  int seq_len = 1;
  int heads = 1;
  int head_dim = 64;
};

struct AttentionArgs {
  AttentionShape shape;
  const float* q = nullptr;  // [heads*head_dim][ld_in]
  const float* k = nullptr;  // [heads*head_dim][ld_in]
  const float* v = nullptr;  // [heads*head_dim][ld_in]
  int64_t ld_in = 0;
  // [batch] valid lengths in 0..seq_len; nullptr means every row is full.
  const int32_t* valid_lengths = nullptr;
  float scale = 0.125f;  // 1/sqrt(head_dim) for BERT
  float* out = nullptr;  // [heads*head_dim][ld_out], optional
  int64_t ld_out = 0;
  // Optional u8 copy of the output for the int8 output projection, fused
  // into the store: clamp(round_half_even(out / out_u8_scale) + zero point,
  // 0, 255), bit-identical to quantizing this call's fp32 output. At least
  // one of out and out_u8 must be set.
  uint8_t* out_u8 = nullptr;  // [heads*head_dim][ld_out_u8]
  int64_t ld_out_u8 = 0;
  float out_u8_scale = 1.0f;
  int32_t out_u8_zero_point = 0;
};

// One implementation: its path, level of the ISA lattice, the queries one
// register tile covers, whether it accepts a shape (AMX needs head_dim % 32
// == 0, int8 head_dim % 4 == 0, vdpbf16ps an even head_dim), the scratch one thread needs, and
// its code (validated arguments, `threads` workspace slices of thread_bytes
// each; it runs that many OpenMP threads and writes the valid queries).
struct AttentionKernel {
  AttentionPath path;
  kernels::Isa isa;
  int tile;
  bool reduced_precision;  // bf16 or int8 products: the int8 models' choice
  bool (*accepts)(const AttentionShape& shape);
  size_t (*thread_bytes)(const AttentionShape& shape);
  void (*run)(const AttentionArgs& args, char* workspace, size_t thread_bytes, int threads);
};

// Every implementation, best first; the op, its tests and its benchmark all
// use this table.
const std::vector<AttentionKernel>& attention_kernels();

// `automatic`: select_kernel() of the table for the shape (isa.h). An
// explicit path runs whatever FASTBERT_ISA says (tests reach every path so);
// one whose level the CPU lacks is refused with
// kernels::unsupported_isa_message; one that declines the shape falls back
// to the next entry of the table that accepts it (bf16_amx to
// int8_avx512vnni for head_dim % 32 != 0, int8 to bf16_avx512bf16 for
// head_dim % 4 != 0, bf16 to fp32_avx512f and int8_avx2 to fp32_avx2 for an
// odd head_dim).
AttentionPath resolve_attention_path(AttentionPath requested, const AttentionShape& shape);

// Scratch memory attention() needs for `shape` with up to `num_threads`
// OpenMP threads on `path`. Size it once per shape bucket and reuse it: the
// kernels allocate nothing.
size_t attention_workspace_bytes(const AttentionShape& shape, AttentionPath path, int num_threads);

// Throws fastbert::Error for an invalid shape, stride, valid length or a
// workspace smaller than attention_workspace_bytes(shape, path, 1). With a
// workspace sized for fewer threads than OpenMP has, fewer threads run.
// workspace == nullptr uses a scratch buffer owned by the calling thread that
// grows to the largest shape seen (an allocation only when it grows).
void attention(const AttentionArgs& args, void* workspace, size_t workspace_bytes,
               AttentionPath path = AttentionPath::automatic);

}  // namespace fastbert
