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
