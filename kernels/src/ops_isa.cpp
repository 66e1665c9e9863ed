#include "fastbert/kernels/ops_isa.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "fastbert/common/error.h"

namespace fastbert {

// This is the one place that reads FASTBERT_ISA for the non-GEMM kernels; it is
// meant to be folded into the common kernel dispatch (kernels/src/isa.cpp).

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
  if (name == "amx") return OpsIsa::amx_bf16;
  if (name == "avx512_vnni") return OpsIsa::avx512bf16;
  if (name == "avx512bw") return OpsIsa::avx512f;
  if (name == "avx_vnni" || name == "avx2") return OpsIsa::avx2;
  if (name == "reference") return OpsIsa::reference;
  throw Error("FASTBERT_ISA='" + std::string(name) +
              "' is not an ISA name; use one of amx, avx512_vnni, avx_vnni, avx512bw, avx2, reference");
}

OpsIsa ops_isa() {
  const OpsIsa cpu = ops_cpu_isa();
  const char* env = std::getenv("FASTBERT_ISA");
  if (env == nullptr || *env == '\0') return cpu;
  return std::min(cpu, ops_isa_cap_from_name(env));
}

}  // namespace fastbert
