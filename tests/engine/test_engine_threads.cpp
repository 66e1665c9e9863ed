// The threading contract of engine.h: one Engine's calls from many threads
// run one at a time and give the logits of serial calls; distinct Engines run
// side by side; an Engine's thread count is its own.
#include <gtest/gtest.h>
#include <omp.h>

#include <thread>
#include <vector>

#include "fastbert/export/fbm_export.h"
#include "fastbert/runtime/engine.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
using testing::TinyBert;
using testing::TinyBertSpec;
using testing::Window;

constexpr int64_t kSeq = 32;

struct Logits {
  std::vector<float> start, end;
  bool operator==(const Logits& o) const { return start == o.start && end == o.end; }
};

Logits run(Engine& engine, const std::vector<Window>& windows) {
  std::vector<int32_t> ids, types, mask;
  for (const Window& w : windows) {
    ids.insert(ids.end(), w.ids.begin(), w.ids.end());
    types.insert(types.end(), w.types.begin(), w.types.end());
    for (int64_t s = 0; s < kSeq; ++s) mask.push_back(s < w.length ? 1 : 0);
  }
  Logits l;
  l.start.resize(ids.size());
  l.end.resize(ids.size());
  engine.forward(ids.data(), types.data(), mask.data(), static_cast<int64_t>(windows.size()), kSeq, l.start.data(),
                 l.end.data());
  return l;
}

class EngineThreadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TinyBert model(TinyBertSpec{});
    model.write_checkpoint(dir_ / "ckpt");
    model.write_quantization(dir_ / "ckpt", model.random_windows(4, kSeq, 3));
    export_fbm(dir_ / "ckpt", dir_ / "m.fbm");  // int8: bit-exact whatever the threads
    // Requests of different batch sizes and lengths, so that calls plan and
    // use different buffers.
    for (int r = 0; r < 6; ++r) requests_.push_back(model.random_windows(1 + r % 3, kSeq, 10 + r));
  }

  testing::TestDir dir_{"fastbert-test-engine-threads"};
  std::vector<std::vector<Window>> requests_;
};

TEST_F(EngineThreadsTest, ConcurrentCallsOnOneEngineGiveTheLogitsOfSerialCalls) {
  EngineOptions o;
  o.num_threads = 1;
  Engine engine(dir_ / "m.fbm", o);
  std::vector<Logits> want;
  for (const auto& r : requests_) want.push_back(run(engine, r));
  std::vector<std::vector<Logits>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round)
        for (const auto& r : requests_) got[t].push_back(run(engine, r));
    });
  for (auto& t : threads) t.join();
  for (size_t t = 0; t < got.size(); ++t)
    for (size_t i = 0; i < got[t].size(); ++i)
      ASSERT_TRUE(got[t][i] == want[i % requests_.size()]) << "thread " << t << " call " << i;
  // Every call's sequences counted once (1 + 2 + 3 + 1 + 2 + 3 per round).
  EXPECT_EQ(engine.profile().sequences, 12 * (1 + 4 * 10));
}

TEST_F(EngineThreadsTest, DistinctEnginesRunSideBySideWithTheirOwnThreadCounts) {
  EngineOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  Engine a(dir_ / "m.fbm", one), b(dir_ / "m.fbm", two);
  std::vector<Logits> want;
  for (const auto& r : requests_) want.push_back(run(a, r));
  std::vector<Logits> got_a, got_b;
  std::thread ta([&] {
    for (const auto& r : requests_) got_a.push_back(run(a, r));
  });
  std::thread tb([&] {
    for (const auto& r : requests_) got_b.push_back(run(b, r));
  });
  ta.join();
  tb.join();
  EXPECT_TRUE(got_a == want);
  EXPECT_TRUE(got_b == want);
  EXPECT_EQ(a.num_threads(), 1);
  EXPECT_EQ(b.num_threads(), 2);
}

TEST_F(EngineThreadsTest, AnEnginesThreadCountLeavesTheCallersOpenMpSettingAlone) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(3);
  {
    EngineOptions o;
    o.num_threads = 1;
    Engine engine(dir_ / "m.fbm", o);
    EXPECT_EQ(omp_get_max_threads(), 3) << "opening the engine changed the caller's thread count";
    run(engine, requests_[0]);
    EXPECT_EQ(omp_get_max_threads(), 3) << "a forward pass changed the caller's thread count";
    EXPECT_EQ(engine.num_threads(), 1);
  }
  // num_threads 0 follows the caller's setting at each call.
  Engine follower(dir_ / "m.fbm");
  EXPECT_EQ(follower.num_threads(), 3);
  omp_set_num_threads(before);
  EXPECT_EQ(follower.num_threads(), before);
}

}  // namespace
}  // namespace fastbert
