#include "fastbert/kernels/peak.h"

#include <omp.h>
#include <xbyak/xbyak.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
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

// The inner loop of the 1x4 SpMM (spmm_1x4_avx512vnni.cpp) with its data in
// L1: per block (one output row x one aligned quad of inputs), the quad's
// index is read and scaled, the row's weight dword is broadcast once, and
// `tw` contiguous 64-byte activation vectors of the [K/4][M][4] layout are
// loaded and fed to `tw` vpdpbusd. No shuffles: per vpdpbusd there are
// 1 + 1/tw vector loads, so the load ports, not port 5, set the ceiling.
// `sets` alternating accumulator sets (by block parity) cover the vpdpbusd
// latency when tw alone is too few independent chains.
class OneByFourMixLoop : public Xbyak::CodeGenerator {
 public:
  static constexpr int kQuads = 16;  // distinct quads cycled through (kQuads * tw * 64 bytes in L1)

  OneByFourMixLoop(int tw, int sets)
      : CodeGenerator(16384), tw_(tw), sets_(sets), x_(size_t(kQuads) * tw * 64 + 64, uint8_t(1)) {
    // 64-byte aligned, as the runtime's activations are: a split line would
    // cost a second load and make the rate depend on where malloc put it.
    const uint8_t* x = x_.data() + (64 - reinterpret_cast<uintptr_t>(x_.data()) % 64) % 64;
    for (int q = 0; q < kQuads; ++q) index_[q] = (q * 7) % kQuads;  // a fixed, non-sequential order
    for (int q = 0; q < kQuads; ++q) weights_[q] = 0x01010101;
    // rdi: iterations.
    mov(rsi, reinterpret_cast<uintptr_t>(index_));
    mov(rdx, reinterpret_cast<uintptr_t>(weights_));
    mov(rcx, reinterpret_cast<uintptr_t>(x));
    mov(r8, int64_t(tw) * 64);  // bytes per quad row of the activation tile
    for (int i = 0; i < tw * sets; ++i) vpxord(Xbyak::Zmm(i), Xbyak::Zmm(i), Xbyak::Zmm(i));
    Xbyak::Label loop;
    L(loop);
    for (int b = 0; b < kQuads; ++b) {
      const int set = b % sets;
      mov(eax, ptr[rsi + 4 * b]);
      imul(rax, r8);
      const Xbyak::Zmm w(30 - set % 2);
      vpbroadcastd(w, ptr[rdx + 4 * b]);
      for (int t = 0; t < tw; ++t) {
        const Xbyak::Zmm xv(24 + (t % 4));
        vmovdqu8(xv, ptr[rcx + rax + 64 * t]);
        vpdpbusd(Xbyak::Zmm(set * tw + t), xv, w);
      }
    }
    dec(rdi);
    jnz(loop, T_NEAR);
    vzeroupper();
    ret();
  }
  double ops_per_iteration() const { return 2.0 * 64.0 * kQuads * tw_; }

 private:
  int tw_, sets_;
  int32_t index_[kQuads];
  int32_t weights_[kQuads];
  std::vector<uint8_t> x_;
};

// The exact int8 multiply-accumulate of a CPU without VNNI (the AVX2 dense
// kernel's and the AVX2 SpMMs'): vpmaddwd on int16-widened bytes, its dword
// products added by vpaddd, 6 independent chains (14 of the 16 ymm). On
// AMD EPYC Zen 3 it ran at 1.6 pairs a cycle, vpmaddwd alone at 2.
class Avx2MaddLoop : public Xbyak::CodeGenerator {
 public:
  static constexpr int kChains = 6;
  Avx2MaddLoop() {
    for (int i = 0; i < 2 * kChains; ++i) vpxor(Xbyak::Ymm(i), Xbyak::Ymm(i), Xbyak::Ymm(i));
    vpcmpeqd(ymm14, ymm14, ymm14);
    vpcmpeqd(ymm15, ymm15, ymm15);
    Xbyak::Label loop;
    L(loop);
    for (int i = 0; i < kChains; ++i) {
      vpmaddwd(Xbyak::Ymm(kChains + i), ymm14, ymm15);
      vpaddd(Xbyak::Ymm(i), Xbyak::Ymm(i), Xbyak::Ymm(kChains + i));
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

double measure_avx2_int8_peak_gops(int threads, double seconds) {
  if (!cpu_supports(Isa::avx2)) return 0.0;
  static Avx2MaddLoop code;
  return best_rate(code.getCode<void (*)(int64_t)>(), 2.0 * 16.0 * Avx2MaddLoop::kChains, threads, seconds);
}

Int8Peak measure_int8_peak(int threads, double seconds) {
  Int8Peak p;
  const bool vnni = cpu_supports(Isa::avx512_vnni);
  auto measure = vnni ? measure_vnni_peak_gops : measure_avx2_int8_peak_gops;
  p.gops = measure(threads, seconds);
  p.gops_1_thread = threads > 1 ? measure(1, seconds) : p.gops;
  p.isa = vnni ? Isa::avx512_vnni : Isa::avx2;
  p.name = vnni ? "VNNI" : "AVX2 exact int8";
  p.loop = vnni ? "int8 VNNI, measured vpdpbusd loop" : "no VNNI: exact int8 on AVX2, measured vpmaddwd + vpaddd loop";
  return p;
}

double measure_vnni_4x1_interleave_ceiling_gops(int threads, double seconds) {
  if (!cpu_supports(Isa::avx512_vnni)) return 0.0;
  static InterleaveMixLoop code;
  return best_rate(code.getCode<void (*)(int64_t)>(), 2.0 * 64.0 * 32, threads, seconds);
}

double measure_vnni_1x4_inner_loop_ceiling_gops(int threads, int tile_vectors, double seconds) {
  if (!cpu_supports(Isa::avx512_vnni)) return 0.0;
  if (tile_vectors < 1 || tile_vectors > 12) return 0.0;
  // Fewer than 6 chains cannot cover vpdpbusd's latency at one a cycle.
  const int sets = tile_vectors >= 6 ? 1 : 2;
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<OneByFourMixLoop>> loops;
  OneByFourMixLoop* code;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = loops[tile_vectors];
    if (!slot) slot = std::make_unique<OneByFourMixLoop>(tile_vectors, sets);
    code = slot.get();
  }
  return best_rate(code->getCode<void (*)(int64_t)>(), code->ops_per_iteration(), threads, seconds);
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
