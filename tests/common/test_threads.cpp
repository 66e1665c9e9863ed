// The threading policy of common/threads.h: waiting threads spin briefly, then sleep, and tiny
// work stays on one thread.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstdlib>
#include <string>

#include "fastbert/common/threads.h"

namespace fastbert {
namespace {

// ctest starts this binary without OMP_WAIT_POLICY or GOMP_SPINCOUNT (a user
// who sets either keeps their own, and the test is skipped).
TEST(WaitPolicy, LibgompSpins300TimesBeforeSleepingAndTheEnvironmentIsTheUsersAgain) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
    GTEST_SKIP() << "OMP_WAIT_POLICY or GOMP_SPINCOUNT was set by the user, who keeps it";
  EXPECT_TRUE(short_spin_wait_policy_applied());
  // libgomp's own account of the policy it runs under (its default spins
  // 300000 times, OMP_WAIT_POLICY=passive 0 times).
  testing::internal::CaptureStderr();
  omp_display_env(1);
  const std::string env = testing::internal::GetCapturedStderr();
  EXPECT_NE(env.find("GOMP_SPINCOUNT = '300'"), std::string::npos) << env;
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
