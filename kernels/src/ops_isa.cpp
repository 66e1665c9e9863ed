#include "fastbert/kernels/ops_isa.h"

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
  }
  return "unknown";
}

OpsIsa ops_cpu_isa() {
  // libgcc's __builtin_cpu_supports also checks XCR0, i.e. that the OS saves
  // the ymm/zmm state, not only the CPUID bits.
  static const OpsIsa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
      if (__builtin_cpu_supports("avx512bf16")) return OpsIsa::avx512bf16;
      return OpsIsa::avx512f;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return OpsIsa::avx2;
    return OpsIsa::reference;
  }();
  return isa;
}

OpsIsa ops_isa_cap_from_name(std::string_view name) {
  if (name == "avx512_vnni") return OpsIsa::avx512bf16;
  if (name == "avx512bw") return OpsIsa::avx512f;
  if (name == "avx_vnni" || name == "avx2") return OpsIsa::avx2;
  if (name == "reference") return OpsIsa::reference;
  throw Error("FASTBERT_ISA='" + std::string(name) +
              "' is not an ISA name; use one of avx512_vnni, avx_vnni, avx512bw, avx2, reference");
}

OpsIsa ops_isa() {
  const OpsIsa cpu = ops_cpu_isa();
  const char* env = std::getenv("FASTBERT_ISA");
  if (env == nullptr || *env == '\0') return cpu;
  return std::min(cpu, ops_isa_cap_from_name(env));
}

}  // namespace fastbert
