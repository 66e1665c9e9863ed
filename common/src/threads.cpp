#include "fastbert/common/threads.h"

#include <omp.h>
#include <sched.h>

#include "fastbert/common/bounded_number.h"

namespace fastbert {

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
