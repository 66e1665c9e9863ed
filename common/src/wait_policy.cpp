// The passive libgomp wait policy of fastbert's own executables (threads.h,
// passive_wait_policy_applied). A separate object, linked into the
// executables (fastbert, fastbert-train, the tests) and not into the
// installed libraries: a program that embeds the runtime keeps its own
// process start and its own OpenMP settings.
//
// fastbert-train runs passive too, on purpose: spinning would only pay on a
// machine with nothing else to run. On the 2-core machine the MiniLM
// recipes train on (with builds and tests beside them), a frontier prune +
// distill step with OMP_WAIT_POLICY=active took 2.3-2.7x as long as passive
// (teacher forward 4.5 s against 1.7 s, median). Whoever has a machine to
// itself can still set OMP_WAIT_POLICY=active: it is respected.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "fastbert/common/threads.h"

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

}  // namespace fastbert
