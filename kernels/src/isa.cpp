#include "fastbert/kernels/isa.h"

#include <xbyak/xbyak_util.h>

#include <cstdlib>

#include "fastbert/common/error.h"

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
  throw Error("unknown ISA '" + name + "' (expected one of: reference, avx2, avx512bw, avx_vnni, avx512_vnni)");
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
