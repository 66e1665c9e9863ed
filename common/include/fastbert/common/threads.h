#pragma once
#include <cstdint>

namespace fastbert {

// The most threads an option or a recipe may ask for. Above the hardware
// threads of today's largest servers (2 sockets x 192 cores x 2 = 768) and
// far below what breaks libgomp (--threads 100000 crashed inside it). A fixed
// number rather than a multiple of this machine's cores, so that a recipe
// means the same on every machine.
constexpr int kMaxThreads = 1024;

// The whole runtime parallelises with OpenMP (oneDNN and LibTorch in Debian use
// libgomp too, so one pool serves all of them and nothing oversubscribes).
// n == 0 means: the number of cores available to this process. n outside
// [0, kMaxThreads] throws fastbert::Error (callers check their option's
// range first, naming it; this is the backstop).
//
// Waiting threads spin briefly, then sleep. libgomp's default spins about
// 300000 times at every barrier and at the end of every parallel region, so
// a thread whose partner lost its core to another process burns its own time
// slice waiting, region after region: beside one busy process per core, the
// demo model's batch-1 latency went from 0.3 ms to a 320 ms median
// (bench/results/contention.json). Not spinning at all costs a kernel wake-up
// per region instead (a 30 us op took 100 us on 2 threads). So every
// executable linking this library runs libgomp with a GOMP_SPINCOUNT of
// about 8 us of PAUSEs, timed at start-up (300 on Zen 4, about 800 on
// Sapphire Rapids; the measurements are in common/src/wait_policy.cpp), unless the
// user set OMP_WAIT_POLICY or GOMP_SPINCOUNT. libgomp reads them once, in its
// own start-up, so the executable sets it before any library starts and takes
// it out of the environment again once libgomp has read it: child processes
// see the user's environment. That start-up hook is in fastbert's
// executables only (common/src/wait_policy.cpp), not in the installed
// libraries: a program that embeds the runtime sets GOMP_SPINCOUNT itself if
// it wants it. True when this process runs under the policy set so; defined
// only in those executables.
bool short_spin_wait_policy_applied();

// The least work worth a thread of its own: below it, waking one more thread
// and joining it (some microseconds quiet, a scheduler time slice when its
// core is taken) costs about what it saves. In nanoseconds of one core.
constexpr double kMinNanosecondsPerThread = 50'000;

// How many threads a parallel region should use for work that takes about
// `serial_ns` nanoseconds on one core: num_threads() at most, one for tiny
// work. Every parallel region of the runtime sizes its team with this (an
// estimate of its op's cost per element is enough: it only has to be right
// within a factor of two or so).
int threads_for_work(double serial_ns);

void set_num_threads(int n);
int num_threads();

// Sets the calling thread's OpenMP thread count for its lifetime and restores
// the previous one after (n <= 0: leaves it alone). OpenMP keeps that count
// per thread, so this changes nothing for other threads or later code.
class ScopedNumThreads {
 public:
  explicit ScopedNumThreads(int n);
  ~ScopedNumThreads();
  ScopedNumThreads(const ScopedNumThreads&) = delete;
  ScopedNumThreads& operator=(const ScopedNumThreads&) = delete;

 private:
  int previous_;
  bool changed_;
};

}  // namespace fastbert
