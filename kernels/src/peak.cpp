#include "fastbert/kernels/peak.h"

#include <omp.h>
#include <xbyak/xbyak.h>

#include <algorithm>
#include <chrono>
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

}  // namespace

double measure_vnni_peak_gops(int threads, double seconds) {
  if (!cpu_supports(Isa::avx512_vnni)) return 0.0;
  static PeakLoop code;
  const auto loop = code.getCode<void (*)(int64_t)>();
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
      rate[size_t(omp_get_thread_num())] = 2.0 * 64.0 * kAccumulators * double(kIterations) / s * 1e-9;
    }
    double sum = 0.0;
    for (double r : rate) sum += r;
    best = std::max(best, sum);
  }
  return best;
}

}  // namespace fastbert::kernels
