#include "fastbert/common/threads.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "fastbert/common/bounded_number.h"

namespace fastbert {
namespace {

constexpr char kMarker[] = "FASTBERT_SET_OMP_WAIT_POLICY=1";
bool g_wait_policy_set = false;

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

// Runs before every shared library's initialiser (glibc calls an
// executable's .preinit_array first; only executables have one). Setting the
// variable here is not enough: libc's own initialiser, next, puts back the
// environment the process started with. So the executable starts itself
// again, once, with the policy added to that environment, before any library
// has run (about 1 ms); if that fails, it goes on as it is.
void restart_with_passive_wait_policy(int, char** argv, char** envp) {
  int n = 0;
  for (; envp[n]; ++n)
    if (starts_with(envp[n], "OMP_WAIT_POLICY=") || starts_with(envp[n], "GOMP_SPINCOUNT=") ||
        starts_with(envp[n], kMarker))
      return;
  char** env = static_cast<char**>(std::malloc(sizeof(char*) * size_t(n + 3)));
  if (!env) return;
  std::memcpy(env, envp, sizeof(char*) * size_t(n));
  env[n] = const_cast<char*>("OMP_WAIT_POLICY=passive");
  env[n + 1] = const_cast<char*>(kMarker);
  env[n + 2] = nullptr;
  execve("/proc/self/exe", argv, env);
  std::free(env);
}
__attribute__((section(".preinit_array"), used)) void (*const kRestartWithPassiveWaitPolicy)(int, char**, char**) =
    &restart_with_passive_wait_policy;

// Runs after libgomp's initialiser, which has read the variable (an
// executable's own initialisers come after those of the libraries it needs):
// the environment is the user's again, for child processes.
__attribute__((constructor)) void forget_passive_wait_policy() {
  if (!std::getenv("FASTBERT_SET_OMP_WAIT_POLICY")) return;
  unsetenv("OMP_WAIT_POLICY");
  unsetenv("FASTBERT_SET_OMP_WAIT_POLICY");
  g_wait_policy_set = true;
}

}  // namespace

bool passive_wait_policy_applied() { return g_wait_policy_set; }

int threads_for_work(double serial_ns) {
  const int most = omp_get_max_threads();
  if (!(serial_ns >= 2 * kMinNanosecondsPerThread) || most <= 1) return 1;
  return int(std::min<double>(most, std::floor(serial_ns / kMinNanosecondsPerThread)));
}

void set_num_threads(int n) {
  check_bounded("threads", n, 0, kMaxThreads);
  if (n == 0) {
    cpu_set_t set;
    n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : omp_get_num_procs();
  }
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

ScopedNumThreads::ScopedNumThreads(int n) : previous_(omp_get_max_threads()), changed_(n > 0) {
  if (changed_) omp_set_num_threads(n);
}

ScopedNumThreads::~ScopedNumThreads() {
  if (changed_) omp_set_num_threads(previous_);
}

}  // namespace fastbert
