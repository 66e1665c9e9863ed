#include "fastbert/kernels/peak.h"

#include <omp.h>
#include <xbyak/xbyak.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <vector>

#include "fastbert/kernels/isa.h"

namespace fastbert::kernels {
namespace {

constexpr int kAccumulators = 24;  // > latency x throughput, so no dependency stalls

// void loop(int64_t iterations): kAccumulators independent vpdpbusd per iteration.
class PeakLoop : public Xbyak::CodeGenerator {
 public:
  PeakLoop() {
    for (int i = 0; i < kAccumulators; ++i) vpxord(Xbyak::Zmm(i), Xbyak::Zmm(i), Xbyak::Zmm(i));
    vpternlogd(zmm30, zmm30, zmm30, 0xFF);
    vpternlogd(zmm31, zmm31, zmm31, 0xFF);
    Xbyak::Label loop;
    L(loop);
    for (int i = 0; i < kAccumulators; ++i) vpdpbusd(Xbyak::Zmm(i), zmm30, zmm31);
    dec(rdi);
    jnz(loop);
    vzeroupper();
    ret();
  }
};

// The register-only instruction mix of one 4x1 chunk of the SpMM microkernel
// (spmm_4x1_avx512vnni_jit.cpp): 8 byte/word unpacks that interleave 4 input
// rows, then 16 vpdpbusd that each interleaved vector feeds into the 4 rows of
// the group. Twice per iteration, so two chunks' unpacks can overlap.
class InterleaveMixLoop : public Xbyak::CodeGenerator {
 public:
  InterleaveMixLoop() {
    for (int i = 0; i < 16; ++i) vpxord(Xbyak::Zmm(i), Xbyak::Zmm(i), Xbyak::Zmm(i));
    for (int i = 16; i < 32; ++i) vpternlogd(Xbyak::Zmm(i), Xbyak::Zmm(i), Xbyak::Zmm(i), 0xFF);
    Xbyak::Label loop;
    L(loop);
    for (int copy = 0; copy < 2; ++copy) {
      const int t = copy * 4;  // temporaries zmm20..27 alternate between the copies
      vpunpcklbw(Xbyak::Zmm(20 + t), zmm16, zmm17);
      vpunpckhbw(Xbyak::Zmm(21 + t), zmm16, zmm17);
      vpunpcklbw(Xbyak::Zmm(22 + t), zmm18, zmm19);
      vpunpckhbw(Xbyak::Zmm(23 + t), zmm18, zmm19);
      vpunpcklwd(Xbyak::Zmm(20 + t), Xbyak::Zmm(20 + t), Xbyak::Zmm(22 + t));
      vpunpckhwd(Xbyak::Zmm(22 + t), Xbyak::Zmm(20 + t), Xbyak::Zmm(22 + t));
      vpunpcklwd(Xbyak::Zmm(21 + t), Xbyak::Zmm(21 + t), Xbyak::Zmm(23 + t));
      vpunpckhwd(Xbyak::Zmm(23 + t), Xbyak::Zmm(21 + t), Xbyak::Zmm(23 + t));
      for (int q = 0; q < 4; ++q)
        for (int r = 0; r < 4; ++r) vpdpbusd(Xbyak::Zmm(r * 4 + q), Xbyak::Zmm(20 + t + q), Xbyak::Zmm(28 + r));
    }
    dec(rdi);
    jnz(loop);
    vzeroupper();
    ret();
  }
};

// Runs `loop` on `threads` threads for about `seconds`; returns the best sum
// of the per-thread rates in GOP/s, counting `ops_per_iteration` per call.
double best_rate(void (*loop)(int64_t), double ops_per_iteration, int threads, double seconds) {
  loop(100000);  // warm up the clock and the 512-bit units
  constexpr int64_t kIterations = 200000;
  using Clock = std::chrono::steady_clock;
  double best = 0.0;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<double> rate(size_t(std::max(threads, 1)));
  while (Clock::now() < deadline || best == 0.0) {
    // Each thread times its own loop, so one thread started late (another
    // process on its core) does not lower the others' rate.
#pragma omp parallel num_threads(threads)
    {
      const auto t0 = Clock::now();
      loop(kIterations);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      rate[size_t(omp_get_thread_num())] = ops_per_iteration * double(kIterations) / s * 1e-9;
    }
    double sum = 0.0;
    for (double r : rate) sum += r;
    best = std::max(best, sum);
  }
  return best;
}

}  // namespace

double measure_vnni_peak_gops(int threads, double seconds) {
  if (!cpu_supports(Isa::avx512_vnni)) return 0.0;
  static PeakLoop code;
  return best_rate(code.getCode<void (*)(int64_t)>(), 2.0 * 64.0 * kAccumulators, threads, seconds);
}

double measure_vnni_4x1_interleave_ceiling_gops(int threads, double seconds) {
  if (!cpu_supports(Isa::avx512_vnni)) return 0.0;
  static InterleaveMixLoop code;
  return best_rate(code.getCode<void (*)(int64_t)>(), 2.0 * 64.0 * 32, threads, seconds);
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "unknown CPU" : line.substr(start);
  }
  return "unknown CPU";
}

}  // namespace fastbert::kernels
