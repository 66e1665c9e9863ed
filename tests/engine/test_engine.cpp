#include <gtest/gtest.h>
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/export/fbm_export.h"
#include "fastbert/formats/squad_features.h"
#include "fastbert/kernels/dense_int8.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_runner.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using testing::TinyBert;
using testing::TinyBertSpec;
using testing::Window;

constexpr int64_t kSeq = 48;

class EngineTest : public ::testing::Test {
 protected:
  // Engine logits of `windows` as one batch: [window][position].
  static void engine_logits(Engine& engine, const std::vector<Window>& windows, std::vector<float>* start,
                            std::vector<float>* end) {
    std::vector<int32_t> ids, types, mask;
    for (const Window& w : windows) {
      ids.insert(ids.end(), w.ids.begin(), w.ids.end());
      types.insert(types.end(), w.types.begin(), w.types.end());
      for (int64_t s = 0; s < kSeq; ++s) mask.push_back(s < w.length ? 1 : 0);
    }
    start->assign(ids.size(), 0);
    end->assign(ids.size(), 0);
    engine.forward(ids.data(), types.data(), mask.data(), static_cast<int64_t>(windows.size()), kSeq, start->data(),
                   end->data());
  }

  // max |engine - reference| / max |reference| over the valid positions.
  static double relative_error(const TinyBert& model, const std::vector<Window>& windows, bool int8,
                               const std::vector<float>& start, const std::vector<float>& end) {
    double max_diff = 0, max_ref = 0;
    for (size_t r = 0; r < windows.size(); ++r) {
      std::vector<double> rs, re;
      model.forward(windows[r], int8, &rs, &re);
      for (int64_t s = 0; s < windows[r].length; ++s) {
        max_diff = std::max({max_diff, std::fabs(start[r * kSeq + s] - rs[s]), std::fabs(end[r * kSeq + s] - re[s])});
        max_ref = std::max({max_ref, std::fabs(rs[s]), std::fabs(re[s])});
      }
    }
    std::printf("  relative error vs %s reference: %.3g (max |logit| %.3g)\n", int8 ? "int8-simulation" : "fp32",
                max_diff / max_ref, max_ref);
    return max_diff / max_ref;
  }

  testing::TestDir dir_{"fastbert-test-engine"};
};

TEST_F(EngineTest, Fp32ExportGivesReferenceLogitsWithin1e4Relative) {
  TinyBert model(TinyBertSpec{});
  model.write_checkpoint(dir_ / "ckpt");
  ExportOptions o;
  o.precision = ExportPrecision::fp32;
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
  Engine engine(dir_ / "m.fbm");
  const auto windows = model.random_windows(5, kSeq, 7);
  std::vector<float> start, end;
  engine_logits(engine, windows, &start, &end);
  EXPECT_LT(relative_error(model, windows, false, start, end), 1e-4);
  // Padded positions never win an answer span.
  EXPECT_EQ(start[1 * kSeq + kSeq - 1], -10000.0f);
}

TEST_F(EngineTest, BatchedAndBucketedRunsGiveTheLogitsOfSingleWindowRuns) {
  TinyBert model(TinyBertSpec{});
  model.write_checkpoint(dir_ / "ckpt");
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", {});
  EngineOptions opts;
  opts.seq_bucket = 16;
  Engine engine(dir_ / "m.fbm", opts);
  const auto windows = model.random_windows(6, kSeq, 11);
  std::vector<float> start, end;
  engine_logits(engine, windows, &start, &end);
  for (size_t r = 0; r < windows.size(); ++r) {
    std::vector<float> s1, e1;
    engine_logits(engine, {windows[r]}, &s1, &e1);
    for (int64_t s = 0; s < windows[r].length; ++s) {
      ASSERT_NEAR(s1[s], start[r * kSeq + s], 1e-4 * (1 + std::fabs(s1[s]))) << "window " << r << " position " << s;
      ASSERT_NEAR(e1[s], end[r * kSeq + s], 1e-4 * (1 + std::fabs(e1[s]))) << "window " << r << " position " << s;
    }
  }
}

TEST_F(EngineTest, DenseInt8ExportEqualsInt8SimulationAndStaysNearFp32) {
  TinyBert model(TinyBertSpec{});
  const auto windows = model.write_calibrated_checkpoint(dir_ / "ckpt", 5, kSeq, 3);
  ExportOptions o;
  o.precision = ExportPrecision::int8;
  o.sparse_threshold = 1.0;  // everything dense int8
  const ExportSummary summary = export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
  for (const auto& l : summary.linears) ASSERT_EQ(l.format, fbm::LinearFormat::dense_int8) << l.name;
  EngineOptions eo;
  eo.attention = AttentionPath::fp32_reference;  // isolates the int8 linears
  Engine engine(dir_ / "m.fbm", eo);
  std::vector<float> start, end;
  engine_logits(engine, windows, &start, &end);
  // Stated tolerances: the simulation differs only where an fp32 rounding
  // difference (GELU's erf approximation, summation order) moves a value
  // across a u8 rounding boundary; with every block kept, such one-step
  // flips reach the logits at up to ~0.6 % of their range here.
  EXPECT_LT(relative_error(model, windows, true, start, end), 1e-2);
  EXPECT_LT(relative_error(model, windows, false, start, end), 5e-2);
}

TEST_F(EngineTest, SparseInt8ExportEqualsFp32SimulationOfTheInt8Arithmetic) {
  TinyBert model(testing::block_sparse_spec(0.8));
  const auto windows = model.write_calibrated_checkpoint(dir_ / "ckpt", 5, kSeq, 5);
  const ExportSummary summary = export_fbm(dir_ / "ckpt", dir_ / "m.fbm", {});
  for (const auto& l : summary.linears) {
    ASSERT_EQ(l.format, fbm::LinearFormat::sparse_4x1_int8) << l.name;
    EXPECT_NEAR(l.block_sparsity, 0.8, 0.1) << l.name;
  }
  EngineOptions eo;
  eo.attention = AttentionPath::fp32_reference;
  Engine engine(dir_ / "m.fbm", eo);
  std::vector<float> start, end;
  engine_logits(engine, windows, &start, &end);
  EXPECT_LT(relative_error(model, windows, true, start, end), 2e-3);

  // The default (bf16 attention) path stays close to the same simulation.
  Engine fast(dir_ / "m.fbm");
  engine_logits(fast, windows, &start, &end);
  EXPECT_LT(relative_error(model, windows, true, start, end), 5e-2);
}

// The dispatcher: int8 linears below the crossover sparsity run on the dense
// int8 matmul (the cap's kernel: AMX tiles, AVX512-VNNI or AVX-VNNI), the rest
// on the 4x1 SpMM, and the logits do not depend on the choice (both engines
// give the reference's bits).
TEST_F(EngineTest, Int8LinearsBelowTheForcedCrossoverRunOnTheDenseKernelWithTheSameLogits) {
  TinyBert model(testing::block_sparse_spec(0.8));
  const auto windows = model.write_calibrated_checkpoint(dir_ / "ckpt", 4, kSeq, 7);
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", {});
  auto logits_with = [&](double crossover, const char* want_prefix) {
    EngineOptions eo;
    eo.int8_dense_below_sparsity = crossover;
    Engine engine(dir_ / "m.fbm", eo);
    for (const LinearSummary& l : engine.linears()) {
      EXPECT_EQ(l.format, fbm::LinearFormat::sparse_4x1_int8) << l.name;
      EXPECT_EQ(l.implementation.rfind(want_prefix, 0), 0u) << l.name << " runs " << l.implementation
                                                            << " with crossover " << crossover;
    }
    std::vector<float> start, end;
    engine_logits(engine, windows, &start, &end);
    start.insert(start.end(), end.begin(), end.end());
    return start;
  };
  const std::vector<float> sparse = logits_with(0.0, "spmm_4x1_");
  // Without VNNI at the cap (an AVX2-only CPU) the dense primitive declines
  // and every layer stays on the SpMM, whatever the crossover.
  const bool dense_builds = kernels::DenseInt8Primitive::builds_at_isa_cap();
  const std::vector<float> dense = logits_with(1.0, dense_builds ? "dense_int8_" : "spmm_4x1_");
  ASSERT_EQ(sparse.size(), dense.size());
  for (size_t i = 0; i < sparse.size(); ++i) ASSERT_EQ(sparse[i], dense[i]) << "logit " << i;
  if (!dense_builds)
    GTEST_SKIP() << "no VNNI at cap " << kernels::isa_name(kernels::isa_cap())
                 << ": no layer can run dense, so no crossover splits them";
  // A crossover between the layers' sparsities (the median) splits them.
  std::vector<double> sparsities;
  for (const LinearSummary& l : Engine(dir_ / "m.fbm").linears()) sparsities.push_back(l.block_sparsity);
  std::sort(sparsities.begin(), sparsities.end());
  ASSERT_LT(sparsities.front(), sparsities.back()) << "the layers' sparsities must differ for a split";
  EngineOptions eo;
  eo.int8_dense_below_sparsity = sparsities[sparsities.size() / 2];
  Engine mixed(dir_ / "m.fbm", eo);
  int dense_layers = 0;
  for (const LinearSummary& l : mixed.linears()) {
    const bool dense = l.block_sparsity < eo.int8_dense_below_sparsity;
    dense_layers += dense;
    EXPECT_EQ(l.implementation.rfind(dense ? "dense_int8_" : "spmm_4x1_", 0), 0u)
        << l.name << " at " << l.block_sparsity << " runs " << l.implementation;
  }
  EXPECT_GT(dense_layers, 0);
  EXPECT_LT(dense_layers, int(sparsities.size()));
  std::vector<float> start, end;
  engine_logits(mixed, windows, &start, &end);
  start.insert(start.end(), end.begin(), end.end());
  for (size_t i = 0; i < sparse.size(); ++i) ASSERT_EQ(start[i], sparse[i]) << "logit " << i;

  eo.int8_dense_below_sparsity = 1.5;
  EXPECT_THROW(Engine(dir_ / "m.fbm", eo), Error);
}

// Dense layers run on the dense kernel of the cap where it was measured
// faster than the SpMM with every block kept (AMX tiles, AVX512-VNNI,
// AVX-VNNI, AVX2), and on the SpMM elsewhere: at reference, and at avx512bw
// on a CPU without VNNI, where the AVX2 kernel has not been measured against
// the zmm SpMM (docs/kernels.md).
TEST_F(EngineTest, DenseLayersRunOnTheDenseKernelOfTheCapWhereMeasuredFasterOrOnTheSpmm) {
  TinyBert model(testing::block_sparse_spec(0.8));
  model.write_calibrated_checkpoint(dir_ / "ckpt", 2, kSeq, 3);
  ExportOptions o;
  o.sparse_threshold = 1.0;  // every linear dense int8 in the file
  export_fbm(dir_ / "ckpt", dir_ / "dense.fbm", o);
  Engine engine(dir_ / "dense.fbm");
  const char* expected = kernels::isa_allowed(kernels::Isa::amx)           ? "dense_int8_amx"
                         : kernels::isa_allowed(kernels::Isa::avx512_vnni) ? "dense_int8_avx512vnni"
                         : kernels::isa_allowed(kernels::Isa::avx_vnni)    ? "dense_int8_avxvnni"
                         : kernels::isa_cap() == kernels::Isa::avx2        ? "dense_int8_avx2"
                                                                           : "spmm_4x1_";
  for (const LinearSummary& l : engine.linears()) {
    ASSERT_EQ(l.format, fbm::LinearFormat::dense_int8) << l.name;
    EXPECT_EQ(l.implementation.rfind(expected, 0), 0u) << l.name << " runs " << l.implementation;
  }
}

TEST_F(EngineTest, ProfileAccountsEveryOpKindOfASparseModel) {
  TinyBert model(testing::block_sparse_spec(0.8));
  const auto windows = model.write_calibrated_checkpoint(dir_ / "ckpt", 3, kSeq, 5);
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", {});
  EngineOptions eo;
  eo.profile = true;
  Engine engine(dir_ / "m.fbm", eo);
  std::vector<float> start, end;
  engine_logits(engine, windows, &start, &end);
  for (const char* kind : {"embeddings", "linear_sparse", "attention", "layernorm", "other"})
    EXPECT_GT(engine.profile().seconds.count(kind) ? engine.profile().seconds.at(kind) : 0.0, 0.0) << kind;
  EXPECT_EQ(engine.profile().seconds.count("linear_dense"), 0u);
  EXPECT_EQ(engine.profile().sequences, 3);
  // The same linear time again, split by the linear's name.
  double by_name = 0;
  for (const char* name : fbm::kLayerLinears) {
    ASSERT_EQ(engine.profile().linear_seconds.count(name), 1u) << name;
    by_name += engine.profile().linear_seconds.at(name);
  }
  EXPECT_NEAR(by_name, engine.profile().seconds.at("linear_sparse"), 1e-9);
  engine.reset_profile();
  EXPECT_TRUE(engine.profile().seconds.empty());
  EXPECT_EQ(engine.profile().sequences, 0);
}

// A batch is split into units of whole sequences, one thread each (see
// Engine::forward); every unit has its own buffers and sequence bucket. A
// single window is never split: those runs are the reference.
TEST_F(EngineTest, BatchSplitIntoUnitsGivesTheLogitsOfSingleWindowRunsAndPassesErrorsOn) {
  TinyBert model(testing::block_sparse_spec(0.8));
  auto windows = model.write_calibrated_checkpoint(dir_ / "ckpt", 7, kSeq, 9);
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", {});
  ExportOptions fp32;
  fp32.precision = ExportPrecision::fp32;
  export_fbm(dir_ / "ckpt", dir_ / "f.fbm", fp32);
  // Units of different sequence buckets: a short window among long ones.
  windows[4].length = 5;
  for (int64_t s = 5; s < kSeq; ++s) windows[4].ids[s] = 0;
  ASSERT_LE(omp_get_max_active_levels(), 1) << "nested OpenMP is active: the engine would not split";
  for (const char* file : {"m.fbm", "f.fbm"}) {
    EngineOptions o;
    o.num_threads = 1;
    std::vector<float> want_start(windows.size() * kSeq), want_end(want_start.size());
    {
      Engine engine(dir_ / file, o);
      for (size_t r = 0; r < windows.size(); ++r) {
        std::vector<float> s1, e1;
        engine_logits(engine, {windows[r]}, &s1, &e1);
        std::copy(s1.begin(), s1.end(), want_start.begin() + r * kSeq);
        std::copy(e1.begin(), e1.end(), want_end.begin() + r * kSeq);
      }
    }
    for (int threads : {1, 2}) {
      o.num_threads = threads;
      o.seq_bucket = 16;
      Engine engine(dir_ / file, o);
      ASSERT_EQ(engine.num_threads(), threads);
      std::vector<float> start, end;
      engine_logits(engine, windows, &start, &end);
      for (size_t r = 0; r < windows.size(); ++r)
        for (int64_t s = 0; s < kSeq; ++s) {
          // The int8 export bit for bit; the fp32 one within sgemm's blocking.
          const float rel = file[0] == 'm' ? 0.0f : 1e-5f;
          const size_t i = r * kSeq + s;
          ASSERT_NEAR(start[i], want_start[i], rel * (1 + std::fabs(want_start[i])))
              << file << " " << threads << " threads, window " << r << " position " << s;
          ASSERT_NEAR(end[i], want_end[i], rel * (1 + std::fabs(want_end[i])))
              << file << " " << threads << " threads, window " << r << " position " << s;
        }
      // An error inside one thread's unit reaches the caller.
      auto bad = windows;
      bad[6].ids[1] = 4000;
      try {
        engine_logits(engine, bad, &start, &end);
        FAIL() << "an id outside the vocabulary in the last unit was accepted";
      } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("outside the vocabulary"), std::string::npos) << err.what();
      }
    }
  }
  set_num_threads(0);
}

TEST_F(EngineTest, RejectsPaddingInsideASequenceAndIdsOutsideTheVocabulary) {
  TinyBert model(TinyBertSpec{});
  model.write_checkpoint(dir_ / "ckpt");
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", {});
  Engine engine(dir_ / "m.fbm");
  std::vector<int32_t> ids(8, 5), types(8, 0), mask = {1, 1, 0, 1, 0, 0, 0, 0};
  std::vector<float> s(8), e(8);
  try {
    engine.forward(ids.data(), types.data(), mask.data(), 1, 8, s.data(), e.data());
    FAIL() << "a hole in the mask was accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("not a prefix of ones"), std::string::npos) << err.what();
  }
  mask = {1, 1, 1, 0, 0, 0, 0, 0};
  ids[1] = 4000;
  try {
    engine.forward(ids.data(), types.data(), mask.data(), 1, 8, s.data(), e.data());
    FAIL() << "an id outside the vocabulary was accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("outside the vocabulary"), std::string::npos) << err.what();
  }
}

TEST_F(EngineTest, AnswerReturnsASpanOfTheContextFromTheFilesTokenizer) {
  TinyBert model(TinyBertSpec{});
  model.write_checkpoint(dir_ / "ckpt");
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", {});
  Engine engine(dir_ / "m.fbm");
  const std::string context = "The Denver Broncos won the game in Santa Clara.";
  SquadWindowOptions w;
  w.max_seq = 32;
  w.doc_stride = 8;
  w.max_query = 8;
  const SquadPrediction p = answer(engine, "Who won the game?", context, w);
  ASSERT_GE(p.begin, 0);
  ASSERT_LE(p.end, static_cast<int32_t>(context.size()));
  EXPECT_EQ(p.text, context.substr(p.begin, p.end - p.begin));
  EXPECT_FALSE(p.text.empty());
}

// The training side's own forward (LibTorch) on the same checkpoint, when
// this build has it: the fp32 export must reproduce fastbert-train predict.
TEST_F(EngineTest, Fp32ExportMatchesFastbertTrainPredictWithin1e4Relative) {
  const fs::path tool = fs::path(FASTBERT_BINARY_DIR) / "cli" / "fastbert-train";
  if (!fs::exists(tool)) GTEST_SKIP() << "fastbert-train is not built (FASTBERT_BUILD_TRAINING=OFF)";
  TinyBert model(TinyBertSpec{});
  model.write_checkpoint(dir_ / "ckpt");
  ExportOptions o;
  o.precision = ExportPrecision::fp32;
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
  const auto windows = model.random_windows(4, kSeq, 9);
  SquadFeatures f;
  f.max_seq = kSeq;
  f.tokenizer = "test";
  for (size_t r = 0; r < windows.size(); ++r) {
    f.input_ids.insert(f.input_ids.end(), windows[r].ids.begin(), windows[r].ids.end());
    f.token_type_ids.insert(f.token_type_ids.end(), windows[r].types.begin(), windows[r].types.end());
    for (int64_t s = 0; s < kSeq; ++s) {
      f.attention_mask.push_back(s < windows[r].length ? 1 : 0);
      f.offsets.push_back(-1);
      f.offsets.push_back(-1);
    }
    f.start_positions.push_back(0);
    f.end_positions.push_back(0);
    f.example_index.push_back(static_cast<int32_t>(r));
    f.example_ids.push_back("q" + std::to_string(r));
  }
  write_squad_features(dir_ / "f.h5", f);
  const std::string cmd = tool.string() + " predict --checkpoint " + (dir_ / "ckpt").string() + " --features " +
                          (dir_ / "f.h5").string() + " --out " + (dir_ / "l.h5").string() + " --threads 1 > " +
                          (dir_ / "predict.log").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const SquadLogits torch_logits = read_squad_logits(dir_ / "l.h5");
  Engine engine(dir_ / "m.fbm");
  const SquadLogits ours = run_squad(engine, f, 3);
  double max_diff = 0, max_ref = 0;
  for (size_t r = 0; r < windows.size(); ++r)
    for (int64_t s = 0; s < windows[r].length; ++s) {
      const size_t i = r * kSeq + s;
      max_diff = std::max({max_diff, std::fabs(double(ours.start_logits[i]) - torch_logits.start_logits[i]),
                           std::fabs(double(ours.end_logits[i]) - torch_logits.end_logits[i])});
      max_ref = std::max({max_ref, std::fabs(double(torch_logits.start_logits[i])),
                          std::fabs(double(torch_logits.end_logits[i]))});
    }
  EXPECT_LT(max_diff / max_ref, 1e-4);
}

}  // namespace
}  // namespace fastbert
