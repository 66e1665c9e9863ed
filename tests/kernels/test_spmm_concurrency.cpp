#include <gtest/gtest.h>

#include <thread>

#include "spmm_test_util.h"

namespace fastbert::kernels {
namespace {

// Many threads (each also running its own OpenMP team) share one primitive
// and therefore one generated kernel; every result must equal the serial one.
TEST(SpmmConcurrency, ManyThreadsCallingOneCachedKernelAgree) {
  const testing::SpmmProblem<testing::Family4x1> p(96, 200, 150, 0.8, 42);
  SpmmDesc desc;
  desc.epilogue.gelu = true;
  const SpmmPrimitive prim(p.w, desc);
  std::vector<float> want(size_t(p.n * p.m));
  prim.execute(p.args(want.data(), true, true, 0.02f, 100));
  constexpr int kThreads = 8, kCalls = 20;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> y(want.size());
      for (int c = 0; c < kCalls; ++c) {
        std::fill(y.begin(), y.end(), 0.0f);
        prim.execute(p.args(y.data(), true, true, 0.02f, 100));
        if (y != want) ++mismatches[t];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// Creating primitives from several threads at once goes through the code
// cache; they must all work.
TEST(SpmmConcurrency, ConcurrentPrimitiveCreationIsSafe) {
  const testing::SpmmProblem<testing::Family4x1> p(32, 40, 70, 0.5, 3);
  std::vector<std::thread> threads;
  std::vector<int> ok(6, 0);
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      SpmmDesc desc;
      desc.epilogue.output = t % 2 ? OutputType::s32 : OutputType::f32;
      const SpmmPrimitive prim(p.w, desc);
      std::vector<int32_t> y(size_t(p.n * p.m)), want(y.size());
      prim.execute(p.args(y.data(), false, false, 1.0f, 0));
      reference_spmm(p.dense.data(), p.w->scales.data(), p.n, p.k, ActivationType::u8, desc.epilogue,
                     p.args(want.data(), false, false, 1.0f, 0));
      ok[t] = y == want;
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 6; ++t) EXPECT_TRUE(ok[t]) << "thread " << t;
}

}  // namespace
}  // namespace fastbert::kernels
