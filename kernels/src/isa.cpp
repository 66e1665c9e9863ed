#include "fastbert/kernels/isa.h"

#include <sys/syscall.h>
#include <unistd.h>
#include <xbyak/xbyak_util.h>

#include <cstdlib>

namespace fastbert::kernels {
namespace {

// Linux (>= 5.16) hands out the AMX tile data state only to a process that
// asks for it; without it the first tile instruction faults.
bool linux_grants_amx_tiles() {
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// The one detector. Xbyak's Cpu reads CPUID and XGETBV, so AVX-512 is
// reported only when the OS saves the zmm state; the tile state is checked
// here, as Xbyak does not.
struct CpuLevels {
  bool has[int(Isa::amx) + 1] = {};
  CpuLevels() {
    const Xbyak::util::Cpu cpu;
    using C = Xbyak::util::Cpu;
    const bool avx2 = cpu.has(C::tAVX2) && cpu.has(C::tFMA);
    const bool avx512 = cpu.has(C::tAVX512F) && cpu.has(C::tAVX512BW) && cpu.has(C::tAVX512VL);
    has[int(Isa::reference)] = true;
    has[int(Isa::avx2)] = avx2;
    has[int(Isa::avx_vnni)] = avx2 && cpu.has(C::tAVX_VNNI);
    has[int(Isa::avx512bw)] = avx512;
    has[int(Isa::avx512_vnni)] = avx512 && cpu.has(C::tAVX512_VNNI);
    has[int(Isa::avx512_bf16)] = has[int(Isa::avx512_vnni)] && cpu.has(C::tAVX512_BF16);
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    if (cpu.has(C::tOSXSAVE)) __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    constexpr unsigned kTileCfgAndData = (1u << 17) | (1u << 18);
    has[int(Isa::amx)] = has[int(Isa::avx512_bf16)] && cpu.has(C::tAMX_TILE) && cpu.has(C::tAMX_BF16) &&
                         cpu.has(C::tAMX_INT8) && (xcr0_lo & kTileCfgAndData) == kTileCfgAndData &&
                         linux_grants_amx_tiles();
  }
};

const CpuLevels& cpu_levels() {
  static const CpuLevels levels;
  return levels;
}

std::string names(const std::vector<Isa>& levels) {
  std::string out;
  for (Isa isa : levels) out += std::string(out.empty() ? "" : ", ") + isa_name(isa);
  return out;
}

}  // namespace

const std::vector<Isa>& all_isas() {
  static const std::vector<Isa> all = {Isa::reference,    Isa::avx2,        Isa::avx_vnni, Isa::avx512bw,
                                       Isa::avx512_vnni, Isa::avx512_bf16, Isa::amx};
  return all;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::reference: return "reference";
    case Isa::avx2: return "avx2";
    case Isa::avx_vnni: return "avx_vnni";
    case Isa::avx512bw: return "avx512bw";
    case Isa::avx512_vnni: return "avx512_vnni";
    case Isa::avx512_bf16: return "avx512_bf16";
    case Isa::amx: return "amx";
  }
  return "?";
}

Isa parse_isa(std::string_view name) {
  for (Isa isa : all_isas())
    if (name == isa_name(isa)) return isa;
  throw Error("unknown ISA '" + std::string(name) + "' (expected one of: " + names(all_isas()) + ")");
}

bool cpu_supports(Isa isa) { return cpu_levels().has[int(isa)]; }

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : all_isas())
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

Isa best_cpu_isa() { return supported_isas().back(); }

std::string unsupported_isa_message(const std::string& who, Isa isa) {
  return who + " asks for an instruction set this CPU does not support: " + isa_name(isa) + " (it supports " +
         names(supported_isas()) + ")";
}

void require_cpu_isa(Isa isa, const std::string& who) {
  if (!cpu_supports(isa)) throw Error(unsupported_isa_message(who, isa));
}

Isa isa_cap_from(std::string_view value) {
  if (value.empty()) return best_cpu_isa();
  const Isa isa = parse_isa(value);
  require_cpu_isa(isa, "FASTBERT_ISA=" + std::string(value));
  return isa;
}

Isa isa_cap() {
  // Read once; a refused value is refused at every call, not only the first.
  static const std::string value = [] {
    const char* env = std::getenv("FASTBERT_ISA");
    return std::string(env ? env : "");
  }();
  static const Isa cap = isa_cap_from(value);
  return cap;
}

bool isa_allowed(Isa isa) { return isa <= isa_cap() && cpu_supports(isa); }

}  // namespace fastbert::kernels
