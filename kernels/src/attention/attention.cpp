#include "fastbert/kernels/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "attention_kernels.h"
#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/isa.h"

namespace fastbert {

namespace {

bool any_shape(const AttentionShape&) { return true; }
bool even_head_dim(const AttentionShape& s) { return s.head_dim % 2 == 0; }
bool head_dim_multiple_of_4(const AttentionShape& s) { return s.head_dim % 4 == 0; }
bool head_dim_multiple_of_32(const AttentionShape& s) { return s.head_dim % 32 == 0; }

const AttentionKernel& kernel_of(AttentionPath path) {
  for (const AttentionKernel& k : attention_kernels())
    if (k.path == path) return k;
  throw Error(std::string("attention: no implementation for path ") + attention_path_name(path));
}

void check_shape(const AttentionShape& s) {
  if (s.batch <= 0 || s.seq_len <= 0 || s.heads <= 0 || s.head_dim <= 0)
    throw Error("attention: shape batch=" + std::to_string(s.batch) + " seq_len=" +
                std::to_string(s.seq_len) + " heads=" + std::to_string(s.heads) + " head_dim=" +
                std::to_string(s.head_dim) + " must be positive");
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

const char* attention_path_name(AttentionPath path) {
  switch (path) {
    case AttentionPath::automatic: return "automatic";
    case AttentionPath::bf16_amx: return "bf16_amx";
    case AttentionPath::bf16_avx512bf16: return "bf16_avx512bf16";
    case AttentionPath::int8_avx512vnni: return "int8_avx512vnni";
    case AttentionPath::fp32_avx512f: return "fp32_avx512f";
    case AttentionPath::int8_avx2: return "int8_avx2";
    case AttentionPath::fp32_avx2: return "fp32_avx2";
    case AttentionPath::fp32_reference: return "fp32_reference";
  }
  return "unknown";
}

const std::vector<AttentionKernel>& attention_kernels() {
  using kernels::Isa;
  namespace d = detail;
  static const std::vector<AttentionKernel> table = {
      {AttentionPath::bf16_amx, Isa::amx, 32, true, head_dim_multiple_of_32, d::attention_thread_bytes_bf16_amx,
       d::attention_bf16_amx},
      {AttentionPath::int8_avx512vnni, Isa::avx512_vnni, d::kAttentionQueryBlockAvx512, true, head_dim_multiple_of_4,
       d::attention_thread_bytes_int8_avx512vnni, d::attention_int8_avx512vnni},
      {AttentionPath::bf16_avx512bf16, Isa::avx512_bf16, d::kAttentionQueryBlockAvx512, true, even_head_dim,
       d::attention_thread_bytes_bf16_avx512bf16, d::attention_bf16_avx512bf16},
      {AttentionPath::fp32_avx512f, Isa::avx512bw, d::kAttentionQueryBlockAvx512, false, any_shape,
       d::attention_thread_bytes_fp32_avx512f, d::attention_fp32_avx512f},
      {AttentionPath::int8_avx2, Isa::avx2, d::kAttentionQueryBlockAvx2, true, even_head_dim,
       d::attention_thread_bytes_int8_avx2, d::attention_int8_avx2},
      {AttentionPath::fp32_avx2, Isa::avx2, d::kAttentionQueryBlockAvx2, false, any_shape,
       d::attention_thread_bytes_fp32_avx2, d::attention_fp32_avx2},
      {AttentionPath::fp32_reference, Isa::reference, 1, false, any_shape, d::attention_thread_bytes_fp32_reference,
       d::attention_fp32_reference},
  };
  return table;
}

AttentionPath resolve_attention_path(AttentionPath requested, const AttentionShape& shape) {
  const auto& table = attention_kernels();
  if (requested == AttentionPath::automatic)
    return kernels::select_kernel(table, [&](const AttentionKernel& k) { return k.accepts(shape); }).path;
  const AttentionKernel& wanted = kernel_of(requested);
  kernels::require_cpu_isa(wanted.isa, std::string("attention: ") + attention_path_name(requested));
  bool after = false;
  for (const AttentionKernel& k : table) {
    after = after || &k == &wanted;
    if (after && kernels::cpu_supports(k.isa) && k.accepts(shape)) return k.path;
  }
  return AttentionPath::fp32_reference;
}

size_t attention_workspace_bytes(const AttentionShape& shape, AttentionPath path, int num_threads) {
  check_shape(shape);
  const AttentionPath resolved = resolve_attention_path(path, shape);
  return detail::round_up_64(kernel_of(resolved).thread_bytes(shape)) * std::max(1, num_threads) + 64;
}

void attention(const AttentionArgs& a, void* workspace, size_t workspace_bytes, AttentionPath path) {
  const AttentionShape& s = a.shape;
  check_shape(s);
  const int64_t tokens = int64_t(s.batch) * s.seq_len;
  if (!a.q || !a.k || !a.v) throw Error("attention: q, k and v must not be null");
  if (!a.out && !a.out_u8) throw Error("attention: no output: set out, out_u8 or both");
  if (a.ld_in < tokens || (a.out && a.ld_out < tokens) || (a.out_u8 && a.ld_out_u8 < tokens))
    throw Error("attention: row strides ld_in=" + std::to_string(a.ld_in) + " ld_out=" + std::to_string(a.ld_out) +
                " ld_out_u8=" + std::to_string(a.ld_out_u8) + " must be >= batch*seq_len=" + std::to_string(tokens));
  if (a.out_u8) {
    if (!(a.out_u8_scale > 0) || !std::isfinite(a.out_u8_scale))
      throw Error("attention: out_u8_scale=" + std::to_string(a.out_u8_scale) + " must be finite and positive");
    if (a.out_u8_zero_point < 0 || a.out_u8_zero_point > 255)
      throw Error("attention: out_u8_zero_point=" + std::to_string(a.out_u8_zero_point) + " is outside 0..255");
  }
  if (a.valid_lengths) {
    for (int b = 0; b < s.batch; ++b)
      if (a.valid_lengths[b] < 0 || a.valid_lengths[b] > s.seq_len)
        throw Error("attention: valid_lengths[" + std::to_string(b) + "]=" +
                    std::to_string(a.valid_lengths[b]) + " is outside 0.." + std::to_string(s.seq_len));
  }
  const AttentionKernel& kernel = kernel_of(resolve_attention_path(path, s));
  const size_t per_thread = detail::round_up_64(kernel.thread_bytes(s));
  const int max_threads = std::max(1, omp_get_max_threads());

  if (workspace == nullptr) {
    // One scratch per calling thread, so two engines on two threads never share it.
    thread_local std::unique_ptr<void, FreeDeleter> scratch;
    thread_local size_t scratch_bytes = 0;
    const size_t need = per_thread * max_threads + 64;
    if (scratch_bytes < need) {
      scratch.reset(std::aligned_alloc(64, (need + 63) / 64 * 64));
      if (!scratch) throw Error("attention: cannot allocate " + std::to_string(need) + " bytes of scratch");
      scratch_bytes = need;
    }
    workspace = scratch.get();
    workspace_bytes = scratch_bytes;
  }
  // Align the slices to cache lines whatever the caller's pointer is.
  const size_t misalign = (64 - reinterpret_cast<uintptr_t>(workspace) % 64) % 64;
  if (workspace_bytes < misalign + per_thread)
    throw Error("attention: workspace of " + std::to_string(workspace_bytes) + " bytes is smaller than the " +
                std::to_string(misalign + per_thread) + " bytes one thread needs; size it with attention_workspace_bytes()");
  char* base = static_cast<char*>(workspace) + misalign;
  // About 1 ns per score (exponential, sums) and 0.04 ns per multiply-add of
  // Q·Kᵀ and P·V on one core.
  const double scores = double(s.batch) * s.heads * double(s.seq_len) * double(s.seq_len);
  const int threads = int(std::min<size_t>(std::min(max_threads, threads_for_work(scores * (1.0 + 0.08 * s.head_dim))),
                                           (workspace_bytes - misalign) / per_thread));

  // Padded queries are defined as 0 by the API; the kernels skip them.
  const int dims = s.heads * s.head_dim;
  for (int b = 0; b < s.batch; ++b) {
    const int len = detail::valid_length(a, b);
    if (len == s.seq_len) continue;
    const int64_t first = int64_t(b) * s.seq_len + len;
    for (int f = 0; f < dims; ++f) {
      if (a.out) std::memset(a.out + f * a.ld_out + first, 0, sizeof(float) * (s.seq_len - len));
      if (a.out_u8) std::memset(a.out_u8 + f * a.ld_out_u8 + first, a.out_u8_zero_point, s.seq_len - len);
    }
  }

  kernel.run(a, base, per_thread, threads);
}

}  // namespace fastbert
