// Times the non-GEMM kernels at BERT-base shapes (H=12, dh=64, S=128/384,
// B=1/8): every attention path, two-pass vs three-pass softmax, LayerNorm and
// GELU. Paths are interleaved within each repetition so that clock and
// neighbour noise hit all of them alike; the median is reported.
//
//   attention_speed [threads=2] [repetitions=11] [ld_pad=0] [head_dim=64]
// ld_pad widens the activation row stride beyond B*S (a stride that is a
// multiple of 4 KiB makes every feature row alias in the L1 sets).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fastbert/common/threads.h"
#include "fastbert/kernels/attention.h"
#include "fastbert/kernels/gelu.h"
#include "fastbert/kernels/layer_norm.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/softmax.h"

namespace {

using fastbert::AttentionPath;

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

double seconds(const std::function<void()>& f, double* cpu_seconds = nullptr) {
  timespec c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  if (cpu_seconds) *cpu_seconds = double(c1.tv_sec - c0.tv_sec) + 1e-9 * double(c1.tv_nsec - c0.tv_nsec);
  return wall;
}

// Runs every candidate once per repetition, in turn; returns the medians (and
// the minima in *minima: on a shared machine the minimum shows what the
// kernel can do, the median what a user gets; *cpu_minima: the least process
// CPU time of a call, which preemption by other processes does not inflate).
std::vector<double> interleaved_medians(const std::vector<std::function<void()>>& candidates, int repetitions,
                                        std::vector<double>* minima = nullptr,
                                        std::vector<double>* cpu_minima = nullptr) {
  for (const auto& f : candidates) f();  // warm-up: caches, page faults, thread pool
  std::vector<std::vector<double>> times(candidates.size());
  std::vector<double> cpu_min(candidates.size(), 1e30);
  for (int r = 0; r < repetitions; ++r)
    for (size_t c = 0; c < candidates.size(); ++c) {
      double cpu = 0;
      times[c].push_back(seconds(candidates[c], &cpu));
      cpu_min[c] = std::min(cpu_min[c], cpu);
    }
  if (cpu_minima) *cpu_minima = cpu_min;
  std::vector<double> medians;
  if (minima) minima->clear();
  for (auto& t : times) {
    if (minima) minima->push_back(*std::min_element(t.begin(), t.end()));
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

// Nonzero work of the linear layers of one BERT-base layer at 90 % 4x1 block
// sparsity, S=384, per sequence (issue 4), and the int8 rate assumed for it:
// 600 GOP/s on this machine's 2 cores, so 300 GOP/s per thread.
constexpr double kSparseLinearOpsPerSeq384 = 0.54e9;
constexpr double kSparseInt8OpsPerSecondPerThread = 300e9;

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repetitions = argc > 2 ? std::atoi(argv[2]) : 11;
  const int ld_pad = argc > 3 ? std::atoi(argv[3]) : 0;
  const int dh = argc > 4 ? std::atoi(argv[4]) : 64;  // 32 for MiniLM
  fastbert::set_num_threads(threads);
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char load[64] = {0};
    if (std::fgets(load, sizeof(load), f)) std::printf("load average (other work on this machine): %s", load);
    std::fclose(f);
  }
  std::printf("ld_pad=%d threads=%d repetitions=%d cpu_isa=%s isa_cap=%s\n", ld_pad, threads, repetitions,
              fastbert::kernels::isa_name(fastbert::kernels::best_cpu_isa()),
              fastbert::kernels::isa_name(fastbert::kernels::isa_cap()));

  const int heads = 12, hidden = heads * dh;
  // Every vector entry of the table this CPU runs and that takes this head_dim.
  std::vector<AttentionPath> paths;
  for (const fastbert::AttentionKernel& k : fastbert::attention_kernels())
    if (k.isa != fastbert::kernels::Isa::reference && fastbert::kernels::cpu_supports(k.isa) &&
        k.accepts({1, 1, 1, dh}))
      paths.push_back(k.path);

  std::printf("\n== attention (H=%d, dh=%d, all tokens valid) ==\n", heads, dh);
  std::printf("%-4s %-3s %-16s %10s %9s %9s %9s %s\n", "S", "B", "path", "median ms", "min ms", "cpu ms",
              "GFLOP/s", "share of a 90%-sparse layer (best; linear at 300 GOP/s per thread)");
  for (int seq : {128, 384}) {
    for (int batch : {1, 8}) {
      const fastbert::AttentionShape shape{batch, seq, heads, dh};
      const int64_t ld = int64_t(batch) * seq + ld_pad;
      const std::vector<float> q = random_floats(size_t(hidden) * ld, 1), k = random_floats(size_t(hidden) * ld, 2),
                               v = random_floats(size_t(hidden) * ld, 3);
      std::vector<float> out(size_t(hidden) * ld);
      std::vector<std::vector<char>> workspaces;
      std::vector<std::function<void()>> runs;
      for (AttentionPath p : paths) workspaces.emplace_back(fastbert::attention_workspace_bytes(shape, p, threads));
      for (size_t i = 0; i < paths.size(); ++i) {
        runs.push_back([&, i] {
          fastbert::AttentionArgs a;
          a.shape = shape;
          a.q = q.data(), a.k = k.data(), a.v = v.data(), a.ld_in = ld;
          a.out = out.data(), a.ld_out = ld;
          fastbert::attention(a, workspaces[i].data(), workspaces[i].size(), paths[i]);
        });
      }
      std::vector<double> t_min, t_cpu;
      const std::vector<double> t = interleaved_medians(runs, repetitions, &t_min, &t_cpu);
      const double flop = 4.0 * batch * heads * double(seq) * seq * dh;
      // Linear work scales with S; attention with S².
      const double linear_s =
          kSparseLinearOpsPerSeq384 * (seq / 384.0) * batch / (kSparseInt8OpsPerSecondPerThread * threads);
      for (size_t i = 0; i < paths.size(); ++i) {
        // With one thread the process CPU time is the kernel's own time, free
        // of preemption by the other work on a shared machine.
        const double best = threads == 1 ? std::min(t_min[i], t_cpu[i]) : t_min[i];
        std::printf("%-4d %-3d %-16s %10.3f %9.3f %9.3f %9.1f %5.1f %% (linear %.3f ms)\n", seq,
                    batch, fastbert::attention_path_name(paths[i]), t[i] * 1e3, t_min[i] * 1e3, t_cpu[i] * 1e3,
                    flop / best * 1e-9, 100.0 * best / (best + linear_s), linear_s * 1e3);
      }
    }
  }

  std::printf("\n== softmax of B*H*S rows of S columns (B=1, H=12) ==\n");
  for (int seq : {128, 384}) {
    const int64_t rows = int64_t(heads) * seq;
    const std::vector<float> x = random_floats(size_t(rows) * seq, 4);
    std::vector<float> y(x.size());
    std::vector<const fastbert::SoftmaxKernel*> sp;
    for (const auto& k : fastbert::softmax_kernels())
      if (fastbert::kernels::cpu_supports(k.isa)) sp.push_back(&k);
    std::vector<std::function<void()>> runs;
    for (auto* k : sp) runs.push_back([&, k] { fastbert::softmax(x.data(), seq, y.data(), seq, rows, seq, *k); });
    const std::vector<double> t = interleaved_medians(runs, repetitions);
    for (size_t i = 0; i < sp.size(); ++i)
      std::printf("S=%-4d %-28s %8.3f ms %7.2f GB/s (x read + y written once)\n", seq, sp[i]->name, t[i] * 1e3,
                  8.0 * x.size() / t[i] * 1e-9);
  }

  std::printf("\n== LayerNorm (+residual, +u8) and GELU(+bias) on BERT-base activations ==\n");
  for (int tokens : {384, 3072}) {
    const size_t n = size_t(hidden) * (tokens + ld_pad);
    const std::vector<float> x = random_floats(n, 5), r = random_floats(n, 6);
    const std::vector<float> gamma(hidden, 1.0f), beta(hidden, 0.0f);
    std::vector<float> y(n);
    std::vector<uint8_t> yq(n);
    std::vector<float> inter = random_floats(4 * n, 7);
    const std::vector<float> bias(4 * hidden, 0.1f);
    const int64_t ld = tokens + ld_pad;
    std::vector<std::function<void()>> runs;
    std::vector<const char*> names;
    for (const auto& k : fastbert::layer_norm_kernels()) {
      if (!fastbert::kernels::cpu_supports(k.isa)) continue;
      names.push_back(k.name);
      runs.push_back([&, k] {
        fastbert::LayerNormArgs a;
        a.features = hidden, a.tokens = tokens;
        a.x = x.data(), a.ld_x = ld, a.residual = r.data(), a.ld_residual = ld;
        a.gamma = gamma.data(), a.beta = beta.data();
        a.y = y.data(), a.ld_y = ld, a.y_u8 = yq.data(), a.ld_y_u8 = ld, a.u8_scale = 0.05f, a.u8_zero_point = 128;
        fastbert::layer_norm(a, k);
      });
    }
    for (const auto& k : fastbert::gelu_kernels()) {
      if (!fastbert::kernels::cpu_supports(k.isa)) continue;
      names.push_back(k.name);
      runs.push_back([&, k] {
        fastbert::GeluArgs a;
        a.rows = 4 * hidden, a.cols = tokens;
        a.x = inter.data(), a.ld_x = ld, a.bias = bias.data(), a.y = inter.data(), a.ld_y = ld;
        fastbert::gelu(a, k);
      });
    }
    const std::vector<double> t = interleaved_medians(runs, std::max(3, repetitions / 2));
    for (size_t i = 0; i < t.size(); ++i) std::printf("tokens=%-5d %-22s %8.3f ms\n", tokens, names[i], t[i] * 1e3);
  }
  return 0;
}
