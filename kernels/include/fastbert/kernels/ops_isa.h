#pragma once
#include <string_view>

namespace fastbert {

// Instruction-set tiers of the non-GEMM kernels (attention, LayerNorm, softmax,
// GELU), lowest first. Each tier's code is compiled with per-function target
// attributes, so one binary runs everywhere and picks its tier at run time.
enum class OpsIsa : int {
  reference = 0,   // portable C++, the ground truth of the tests
  avx2 = 1,        // AVX2 + FMA, fp32
  avx512f = 2,     // AVX-512F, fp32
  avx512bf16 = 3,  // AVX-512 with vdpbf16ps: bf16 products, fp32 accumulation
  amx_bf16 = 4,    // AMX tiles (TDPBF16PS), granted by the kernel for this process
};

const char* ops_isa_name(OpsIsa isa);

// The best tier this CPU (and OS, for the zmm and tile state) supports. The
// first call asks Linux for the AMX tile state (arch_prctl
// ARCH_REQ_XCOMP_PERM); if that is refused, AMX is simply not used.
OpsIsa ops_cpu_isa();

// The cap a FASTBERT_ISA value puts on the tiers, using the names of the GEMM
// dispatch: amx (no cap), avx512_vnni (AVX-512 up to vdpbf16ps, no AMX),
// avx512bw (AVX-512 without bf16 products),
// avx_vnni and avx2 (AVX2), reference. Throws fastbert::Error naming the value
// and the accepted names for anything else.
OpsIsa ops_isa_cap_from_name(std::string_view name);

// min(ops_cpu_isa(), cap from FASTBERT_ISA if set). Read on every call (a
// getenv per kernel call, never per element) so tests can switch paths.
OpsIsa ops_isa();

}  // namespace fastbert
