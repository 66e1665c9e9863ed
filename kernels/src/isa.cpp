#include "fastbert/kernels/isa.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xbyak/xbyak_util.h>

#include <algorithm>
#include <cstdlib>

#include "fastbert/common/error.h"

namespace fastbert {
namespace {
// FASTBERT_ISA's name for "no cap": AMX is a tier of the ops only.
constexpr const char* kAmx = "amx";
}  // namespace
}  // namespace fastbert

namespace fastbert::kernels {
namespace {

constexpr Isa kAll[] = {Isa::reference, Isa::avx2, Isa::avx512bw, Isa::avx_vnni, Isa::avx512_vnni};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::reference: return "reference";
    case Isa::avx2: return "avx2";
    case Isa::avx512bw: return "avx512bw";
    case Isa::avx_vnni: return "avx_vnni";
    case Isa::avx512_vnni: return "avx512_vnni";
  }
  return "?";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : kAll)
    if (name == isa_name(isa)) return isa;
  throw Error("unknown ISA '" + name + "' (expected one of: reference, avx2, avx512bw, avx_vnni, avx512_vnni" +
              (name == kAmx ? "; amx is a FASTBERT_ISA value, not a GEMM level)" : ")"));
}

bool cpu_supports(Isa isa) {
  // Xbyak's Cpu checks XGETBV too, so a CPU whose OS does not save zmm state
  // is reported without AVX-512.
  static const Xbyak::util::Cpu cpu;
  using C = Xbyak::util::Cpu;
  switch (isa) {
    case Isa::reference: return true;
    case Isa::avx2: return cpu.has(C::tAVX2) && cpu.has(C::tFMA);
    case Isa::avx512bw: return cpu.has(C::tAVX512F) && cpu.has(C::tAVX512BW) && cpu.has(C::tAVX512VL);
    case Isa::avx_vnni: return cpu.has(C::tAVX2) && cpu.has(C::tFMA) && cpu.has(C::tAVX_VNNI);
    case Isa::avx512_vnni:
      return cpu.has(C::tAVX512F) && cpu.has(C::tAVX512BW) && cpu.has(C::tAVX512VL) && cpu.has(C::tAVX512_VNNI);
  }
  return false;
}

Isa best_cpu_isa() {
  Isa best = Isa::reference;
  for (Isa isa : kAll)
    if (cpu_supports(isa)) best = isa;
  return best;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAll)
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

Isa isa_from_override(const std::string& value) {
  if (value.empty()) return best_cpu_isa();
  // amx caps no GEMM level, but asks for the AMX ops tier: refused, as any
  // other level, on a CPU (or OS) without it.
  if (value == kAmx) {
    if (ops_cpu_isa() < OpsIsa::amx_bf16)
      throw Error(std::string("FASTBERT_ISA=") + value +
                  " asks for an instruction set this CPU does not support (best: " + isa_name(best_cpu_isa()) + ")");
    return best_cpu_isa();
  }
  Isa isa = parse_isa(value);
  if (!cpu_supports(isa))
    throw Error(std::string("FASTBERT_ISA=") + value + " asks for an instruction set this CPU does not support (best: " +
                isa_name(best_cpu_isa()) + ")");
  return isa;
}

Isa default_isa() {
  static const Isa isa = [] {
    const char* env = std::getenv("FASTBERT_ISA");
    return isa_from_override(env ? env : "");
  }();
  return isa;
}

}  // namespace fastbert::kernels

namespace fastbert {

const char* ops_isa_name(OpsIsa isa) {
  switch (isa) {
    case OpsIsa::reference: return "reference";
    case OpsIsa::avx2: return "avx2";
    case OpsIsa::avx512f: return "avx512f";
    case OpsIsa::avx512bf16: return "avx512bf16";
    case OpsIsa::amx_bf16: return "amx_bf16";
  }
  return "unknown";
}

namespace {

// AMX needs three things: the CPUID bits, the OS enabling the tile state in
// XCR0, and (Linux >= 5.16) this process asking for the tile data state.
bool amx_bf16_usable() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amx_bf16 = edx & (1u << 22), amx_tile = edx & (1u << 24);
  if (!amx_bf16 || !amx_tile) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  constexpr unsigned kTileCfgAndData = (1u << 17) | (1u << 18);
  if ((xcr0_lo & kTileCfgAndData) != kTileCfgAndData) return false;
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace

OpsIsa ops_cpu_isa() {
  // libgcc's __builtin_cpu_supports also checks XCR0, i.e. that the OS saves
  // the ymm/zmm state, not only the CPUID bits.
  static const OpsIsa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
      if (__builtin_cpu_supports("avx512bf16")) return amx_bf16_usable() ? OpsIsa::amx_bf16 : OpsIsa::avx512bf16;
      return OpsIsa::avx512f;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return OpsIsa::avx2;
    return OpsIsa::reference;
  }();
  return isa;
}

OpsIsa ops_isa_cap_from_name(std::string_view name) {
  if (name == kAmx) return OpsIsa::amx_bf16;
  switch (kernels::parse_isa(std::string(name))) {
    case kernels::Isa::avx512_vnni: return OpsIsa::avx512bf16;
    case kernels::Isa::avx512bw: return OpsIsa::avx512f;
    case kernels::Isa::avx_vnni:
    case kernels::Isa::avx2: return OpsIsa::avx2;
    case kernels::Isa::reference: return OpsIsa::reference;
  }
  return OpsIsa::reference;
}

OpsIsa ops_isa() {
  const OpsIsa cpu = ops_cpu_isa();
  const char* env = std::getenv("FASTBERT_ISA");
  if (env == nullptr || *env == '\0') return cpu;
  return std::min(cpu, ops_isa_cap_from_name(env));
}

}  // namespace fastbert
