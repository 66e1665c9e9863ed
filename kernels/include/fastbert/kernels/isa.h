#pragma once
// The one place that knows which instructions this CPU has and reads the
// FASTBERT_ISA override, for both kernel families: the int8 GEMMs (Isa levels)
// and the non-GEMM ops (OpsIsa tiers: attention, LayerNorm, softmax, GELU).
// FASTBERT_ISA takes one of: amx, avx512_vnni, avx_vnni, avx512bw, avx2,
// reference; each family uses the highest of its own paths at or below it.
#include <string>
#include <string_view>
#include <vector>

namespace fastbert::kernels {

// Instruction-set levels the kernels are written for, lowest first. Every level
// computes exactly the same integers; higher levels are only faster.
enum class Isa {
  reference,    // portable C++
  avx2,         // vpmaddwd on widened int16 (exact, no vpmaddubsw saturation)
  avx512bw,     // same on zmm
  avx_vnni,     // VEX vpdpbusd on ymm
  avx512_vnni,  // JIT (Xbyak) EVEX vpdpbusd on zmm
};

const char* isa_name(Isa isa);
// Accepts the names printed by isa_name(); throws fastbert::Error otherwise.
Isa parse_isa(const std::string& name);
// What this CPU (and OS, for zmm state) supports.
bool cpu_supports(Isa isa);
Isa best_cpu_isa();
// All levels this CPU can run, lowest first (tests iterate over them).
std::vector<Isa> supported_isas();

// The level the GEMM kernels use by default: best_cpu_isa(), lowered by the
// environment variable FASTBERT_ISA ("amx" does not lower it, and is refused
// without AMX tiles like any other level). Forcing a level the CPU lacks throws a
// fastbert::Error instead of dying later on an illegal instruction. Read once.
Isa default_isa();
// Parses an override value (as FASTBERT_ISA would hold) and checks it against
// the CPU; exposed so the rule is testable without re-running the process.
Isa isa_from_override(const std::string& value);

}  // namespace fastbert::kernels

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

// The cap a FASTBERT_ISA value puts on the tiers: amx (no cap), avx512_vnni
// (AVX-512 up to vdpbf16ps, no AMX), avx512bw (AVX-512 without bf16
// products), avx_vnni and avx2 (AVX2), reference. Throws fastbert::Error
// naming the value and the accepted names for anything else.
OpsIsa ops_isa_cap_from_name(std::string_view name);

// min(ops_cpu_isa(), cap from FASTBERT_ISA if set). Read on every call (a
// getenv per kernel call, never per element) so tests can switch paths.
OpsIsa ops_isa();

}  // namespace fastbert
