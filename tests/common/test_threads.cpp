// The threading policy of common/threads.h: waiting threads spin briefly, then sleep, and tiny
// work stays on one thread.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fastbert/common/threads.h"

namespace fastbert {
namespace {

// The time one PAUSE takes here, as the executable's start-up measures it:
// the fastest of several rounds (an interruption only makes a round slower).
double nanoseconds_per_pause() {
  constexpr int kRounds = 5, kPauses = 4000;
  double best = 0;
  for (int r = 0; r < kRounds; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kPauses; ++i) __builtin_ia32_pause();
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kPauses;
    best = r == 0 ? ns : std::min(best, ns);
  }
  return best;
}

// ctest starts this binary without OMP_WAIT_POLICY or GOMP_SPINCOUNT (a user
// who sets either keeps their own, and the test is skipped).
TEST(WaitPolicy, LibgompSpinsAbout8MicrosecondsOfPausesBeforeSleepingAndTheEnvironmentIsTheUsersAgain) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
    GTEST_SKIP() << "OMP_WAIT_POLICY or GOMP_SPINCOUNT was set by the user, who keeps it";
  EXPECT_TRUE(short_spin_wait_policy_applied());
  // libgomp's own account of the policy it runs under (its default spins
  // 300000 times, OMP_WAIT_POLICY=passive 0 times).
  testing::internal::CaptureStderr();
  omp_display_env(1);
  const std::string env = testing::internal::GetCapturedStderr();
  const size_t at = env.find("GOMP_SPINCOUNT = '");
  ASSERT_NE(at, std::string::npos) << env;
  const long spins = std::stol(env.substr(at + std::strlen("GOMP_SPINCOUNT = '")));
  // 300 on Zen 4 (27.7 ns a PAUSE), about 800 on Sapphire Rapids (10.2 ns):
  // a time, within a factor of 2 of 8.3 us however noisy the core.
  const double ns = double(spins) * nanoseconds_per_pause();
  EXPECT_GT(ns, 8300.0 / 2) << spins << " spins";
  EXPECT_LT(ns, 8300.0 * 2) << spins << " spins";
  // Child processes see the environment the process was started with.
  EXPECT_EQ(std::getenv("FASTBERT_SET_OMP_WAIT_POLICY"), nullptr);
  EXPECT_EQ(std::getenv("GOMP_SPINCOUNT"), nullptr);
}

TEST(ThreadsForWork, WorkBelowTwoThreadsWorthRunsOnOneThread) {
  const ScopedNumThreads threads(8);
  EXPECT_EQ(threads_for_work(0), 1);
  EXPECT_EQ(threads_for_work(-5), 1);
  EXPECT_EQ(threads_for_work(1000), 1);
  EXPECT_EQ(threads_for_work(1.99 * kMinNanosecondsPerThread), 1);
  EXPECT_EQ(threads_for_work(2 * kMinNanosecondsPerThread), 2);
  EXPECT_EQ(threads_for_work(5.5 * kMinNanosecondsPerThread), 5);
}

TEST(ThreadsForWork, LargeWorkUsesTheCallersThreadsAndNoMore) {
  {
    const ScopedNumThreads threads(3);
    EXPECT_EQ(threads_for_work(1e12), 3);
  }
  const ScopedNumThreads one(1);
  EXPECT_EQ(threads_for_work(1e12), 1);
}

}  // namespace
}  // namespace fastbert
