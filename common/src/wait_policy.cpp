// The libgomp wait policy of fastbert's own executables (threads.h,
// short_spin_wait_policy_applied): a waiting thread spins about 8 us (300
// PAUSEs on Zen 4), then sleeps. A separate object, linked into the executables (fastbert,
// fastbert-train, the tests) and not into the installed libraries: a program
// that embeds the runtime keeps its own process start and OpenMP settings.
//
// Why 8 us (AMD EPYC Zen 4, 2 cores, VNNI peak 472.9 GOP/s a core; one PAUSE
// measured 27.7 ns, so 300 spins are about 8 us, libgomp's default 300000
// about 8 ms):
// - Sleeping at once (OMP_WAIT_POLICY=passive, the policy before this one)
//   makes every parallel region wake its threads through the kernel. A
//   768x768 4x1 SpMM at 90 % sparsity, M = 128, 2 threads, took 91-111 us
//   passive and 27-42 us spinning 300 times (five runs each);
//   MiniLM at seq 128, batch 1, quiet, served 195-254 sequences/s passive and
//   242-306 spinning 300 times, in three interleaved runs (batch 8: 409-518
//   either way; bench/results/contention.json, runs passive-wait and
//   spin300-wait).
// - Spinning long is what collapsed latency beside busy processes: with one
//   busy loop per core, MiniLM batch 1 had p90 1,629 ms under libgomp's
//   default spin (run before-c25b1d7); in the interleaved runs above, 11-16 ms
//   passive, 8-12 ms spinning 300 times, 13-18 ms spinning 2,000 or 10,000.
// - Training does not care: 12 prune + distill steps from the MiniLM teacher
//   took 41-46 s either way, quiet, interleaved.
// - The wait is a time, not a count: a PAUSE takes 27.7 ns on Zen 4 but
//   10.2 ns on Sapphire Rapids (Intel Xeon, AMX, 2 cores), where 300 spins
//   (3 us) let the partner sleep between back-to-back parallel regions: a
//   768x768 oneDNN AMX int8 matmul, M = 128, 2 threads, took 0.126 ms
//   spinning 300 times, 0.089 at 800, 0.061 at 1,500 and 0.057 at 3,000
//   (0.050 at the default); the runtime's dense int8 layer 0.295 ms at 300
//   and 0.077-0.081 at 800-1,500. So the count is what takes kSpinNs on this
//   CPU, timed once at start-up (the fastest of 5 rounds of 400 PAUSEs, about
//   20-55 us in all): 300 on Zen 4
//   as measured above, about 800 on Sapphire Rapids. There, against 300
//   spins (bench/results/contention_spr.json, one interleaved run): quiet,
//   the demo model at batch 1 served 5,994 sequences/s against 4,749, MiniLM
//   the same (388 and 382); beside one busy loop per core, p90 stayed in
//   milliseconds either way (MiniLM batch 1: 4.2 ms against 7.6; the demo
//   at batch 1: 0.24 against 0.19, its p99 4.2 against 0.25).
// Whoever wants another policy sets OMP_WAIT_POLICY or GOMP_SPINCOUNT: either
// is respected.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fastbert/common/threads.h"

namespace fastbert {
namespace {

constexpr char kMarker[] = "FASTBERT_SET_OMP_WAIT_POLICY=1";
bool g_wait_policy_set = false;

constexpr double kSpinNs = 8300;  // 300 PAUSEs of 27.7 ns, the count measured on Zen 4

double monotonic_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

// The libgomp spin count that waits about kSpinNs: libgomp's spin loop is a
// load and a PAUSE per iteration.
long spin_count_for_this_cpu() {
#if defined(__x86_64__) || defined(__i386__)
  // The fastest of 5 rounds of 400: an interruption or a core still waking
  // only makes a round slower, and a single timing of all 2,000 at once
  // came out at 2x the PAUSE time on an AMD EPYC Zen 3 guest (146 spins, 4.1
  // us, where the test then timed 28 ns a PAUSE).
  constexpr int kRounds = 5, kPauses = 400;
  double per_pause = 0;
  for (int r = 0; r < kRounds; ++r) {
    const double t0 = monotonic_ns();
    for (int i = 0; i < kPauses; ++i) __builtin_ia32_pause();
    const double round = (monotonic_ns() - t0) / kPauses;
    per_pause = r == 0 ? round : std::min(per_pause, round);
  }
  if (!(per_pause > 0)) return 300;
  return std::clamp(long(kSpinNs / per_pause + 0.5), 100L, 10000L);
#else
  return 300;
#endif
}

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

// Runs before every shared library's initialiser (glibc calls an
// executable's .preinit_array first; only executables have one). Setting the
// variable here is not enough: libc's own initialiser, next, puts back the
// environment the process started with. So the executable starts itself
// again, once, with the policy added to that environment, before any library
// has run (about 1 ms); if that fails, it goes on as it is.
void restart_with_short_spin_wait_policy(int, char** argv, char** envp) {
  int n = 0;
  for (; envp[n]; ++n)
    if (starts_with(envp[n], "OMP_WAIT_POLICY=") || starts_with(envp[n], "GOMP_SPINCOUNT=") ||
        starts_with(envp[n], kMarker))
      return;
  char** env = static_cast<char**>(std::malloc(sizeof(char*) * size_t(n + 3)));
  if (!env) return;
  std::memcpy(env, envp, sizeof(char*) * size_t(n));
  static char spin[40];
  std::snprintf(spin, sizeof spin, "GOMP_SPINCOUNT=%ld", spin_count_for_this_cpu());
  env[n] = spin;
  env[n + 1] = const_cast<char*>(kMarker);
  env[n + 2] = nullptr;
  execve("/proc/self/exe", argv, env);
  std::free(env);
}
__attribute__((section(".preinit_array"), used)) void (*const kRestartWithShortSpinWaitPolicy)(int, char**, char**) =
    &restart_with_short_spin_wait_policy;

// Runs after libgomp's initialiser, which has read the variable (an
// executable's own initialisers come after those of the libraries it needs):
// the environment is the user's again, for child processes.
__attribute__((constructor)) void forget_short_spin_wait_policy() {
  if (!std::getenv("FASTBERT_SET_OMP_WAIT_POLICY")) return;
  unsetenv("GOMP_SPINCOUNT");
  unsetenv("FASTBERT_SET_OMP_WAIT_POLICY");
  g_wait_policy_set = true;
}

}  // namespace

bool short_spin_wait_policy_applied() { return g_wait_policy_set; }

}  // namespace fastbert
