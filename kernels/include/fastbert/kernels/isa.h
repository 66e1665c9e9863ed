#pragma once
// The one instruction-set lattice of every kernel family (the int8 GEMMs,
// attention, LayerNorm, softmax, GELU), in one place: the CPU is detected
// once, FASTBERT_ISA is read once, every level has one spelling, a level the
// CPU lacks is refused with one message, and one rule picks a family's
// implementation from its table (like XNNPACK's microkernel lists, where an
// entry may also decline a problem, as a oneDNN implementation does).
#include <string>
#include <string_view>
#include <vector>

#include "fastbert/common/error.h"

namespace fastbert::kernels {

// Levels in order of preference, lowest first: a kernel family uses the
// highest level it has an implementation for that the CPU supports and
// FASTBERT_ISA allows. A CPU need not have every level below its best (Zen 4
// and Ice Lake have avx512_vnni but not avx_vnni), so each level is checked
// on its own. Every level computes what the reference computes: bit for bit
// for the integer GEMMs and the fp32 elementwise ops, within the stated
// tolerance for attention's bf16 products.
enum class Isa : int {
  reference,    // portable C++, the ground truth of the tests
  avx2,         // AVX2 + FMA
  avx_vnni,     // + VEX vpdpbusd on ymm (Alder Lake: VNNI without AVX-512)
  avx512bw,     // AVX-512 F, BW and VL
  avx512_vnni,  // + EVEX vpdpbusd
  avx512_bf16,  // + vdpbf16ps
  amx,          // + AMX tiles (bf16 and int8), once Linux grants them to the process
};

// Every level, lowest first.
const std::vector<Isa>& all_isas();

// The one spelling of a level: FASTBERT_ISA's, the CLI's and serve's.
const char* isa_name(Isa isa);
// Accepts exactly the names isa_name() prints; throws fastbert::Error naming
// the value and the accepted names otherwise.
Isa parse_isa(std::string_view name);

// What this CPU (and OS: the zmm state for AVX-512, the tile state for AMX)
// supports; detected once, the first time anything asks.
bool cpu_supports(Isa isa);
// The levels this CPU supports, lowest first.
std::vector<Isa> supported_isas();
Isa best_cpu_isa();

// The one refusal of a level the CPU lacks, whoever asks (FASTBERT_ISA, a
// kernel family, an SpMM primitive): "<who> asks for an instruction set this
// CPU does not support: <isa> (it supports reference, avx2, ...)".
std::string unsupported_isa_message(const std::string& who, Isa isa);
// Throws fastbert::Error(unsupported_isa_message(who, isa)) unless the CPU
// supports `isa`.
void require_cpu_isa(Isa isa, const std::string& who);

// The highest level any kernel may use: FASTBERT_ISA if set (a level the
// CPU lacks, or an unknown name, is refused, every time this is asked), else
// best_cpu_isa(). The variable is read once, at the first call: changing it
// later in the process changes nothing.
Isa isa_cap();
// The rule isa_cap() applies to FASTBERT_ISA's value ("" = unset), exposed
// so that it is testable without starting a process per value.
Isa isa_cap_from(std::string_view value);
// Whether a kernel written for `isa` may run by default: the CPU supports it
// and it is at or below isa_cap().
bool isa_allowed(Isa isa);

// The implementation a family runs by default: the first entry of its table
// (ordered best first, each with an `isa` member) whose level isa_allowed()
// and which accepts the problem (`accepts(entry)`; an entry declines, e.g.,
// a shape its tiles do not fit). Every table ends with a reference entry
// that accepts everything, so one is always found.
template <class Kernel, class Accepts>
const Kernel& select_kernel(const std::vector<Kernel>& table, Accepts&& accepts) {
  for (const Kernel& k : table)
    if (isa_allowed(k.isa) && accepts(k)) return k;
  throw Error("select_kernel: no implementation accepts the problem (a table lacks its reference entry)");
}
template <class Kernel>
const Kernel& select_kernel(const std::vector<Kernel>& table) {
  return select_kernel(table, [](const Kernel&) { return true; });
}

}  // namespace fastbert::kernels
