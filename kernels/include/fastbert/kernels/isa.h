#pragma once
#include <string>
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

// The level the kernels use by default: best_cpu_isa(), lowered by the
// environment variable FASTBERT_ISA. Forcing a level the CPU lacks throws a
// fastbert::Error instead of dying later on an illegal instruction. Read once.
Isa default_isa();
// Parses an override value (as FASTBERT_ISA would hold) and checks it against
// the CPU; exposed so the rule is testable without re-running the process.
Isa isa_from_override(const std::string& value);

}  // namespace fastbert::kernels
