// The commands as a clumsy user or an attacker runs them: outputs that are
// inputs, numbers out of range, sizes beyond the model or the machine. Each
// must be refused before any work, with a message naming the option, the
// value and what was expected, and leave every input as it was.
#include <gtest/gtest.h>

#include <filesystem>

#include "fastbert/common/atomic_file.h"
#include "fastbert/kernels/isa.h"
#include "run_command.h"
#include "squad_json.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

using fastbert::testing::run_command;

struct Outcome {
  int rc;
  std::string output;  // stdout and stderr
};

class HostileCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_.write_checkpoint(dir_ / "ckpt");
    const std::string context = "the denver broncos won the super bowl 50 game in santa clara .";
    testing::write_squad_json(dir_ / "squad.json", context, {{"q0", "who won ?", "denver broncos", 4}});
    fastbert_ = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert";
  }

  Outcome fastbert(const std::string& args) {
    auto [rc, out] = run_command(fastbert_ + " " + args + " 2>&1");
    return {rc, out};
  }

  // Runs `args`, expects a refusal whose output holds `message`, and that
  // `file` still holds exactly what it held before.
  void expect_refused_and_kept(const std::string& args, const std::string& message, const fs::path& file) {
    const std::string before = read_file(file);
    const Outcome o = fastbert(args);
    EXPECT_NE(o.rc, 0) << args << "\n" << o.output;
    EXPECT_NE(o.output.find(message), std::string::npos) << args << "\n" << o.output;
    EXPECT_EQ(read_file(file), before) << args << ": " << file << " was changed";
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  testing::TinyBert model_{testing::TinyBertSpec{}};
  testing::TestDir dir_{"fastbert-test-hostile-cli"};
  std::string fastbert_;
};

// ------------------------------------------------ outputs that are inputs

TEST_F(HostileCli, ExportOverTheCheckpointsOwnWeightsIsRefusedAndTheWeightsSurvive) {
  expect_refused_and_kept("export --checkpoint " + path("ckpt") + " --out " + path("ckpt/model.safetensors"),
                          "--out " + path("ckpt/model.safetensors") + " lies inside the input --checkpoint",
                          dir_ / "ckpt" / "model.safetensors");
  // A new file beside the weights destroys nothing.
  const Outcome o = fastbert("export --checkpoint " + path("ckpt") + " --out " + path("ckpt/model.fbm") +
                             " --precision fp32");
  EXPECT_EQ(o.rc, 0) << o.output;
}

TEST_F(HostileCli, EvalPredictionsOutOverTheDataIsRefusedAndTheDataSurvives) {
  fs::create_symlink(dir_ / "squad.json", dir_ / "link.json");
  for (const std::string& out : {path("squad.json"), path("ckpt/../squad.json"), path("link.json")})
    expect_refused_and_kept("eval squad --data " + path("squad.json") + " --model " + path("ckpt") +
                                " --predictions-out " + out,
                            "is the same file as the input --data", dir_ / "squad.json");
}

TEST_F(HostileCli, PrepareOverItsDataOrTheTokenizersVocabIsRefused) {
  expect_refused_and_kept("prepare --data " + path("squad.json") + " --tokenizer " + path("ckpt") + " --out " +
                              path("ckpt/vocab.txt"),
                          "lies inside the input --tokenizer", dir_ / "ckpt" / "vocab.txt");
  expect_refused_and_kept("prepare --data " + path("squad.json") + " --tokenizer " + path("ckpt/vocab.txt") +
                              " --out " + path("ckpt/vocab.txt"),
                          "is the same file as the input --tokenizer", dir_ / "ckpt" / "vocab.txt");
  expect_refused_and_kept("prepare --data " + path("squad.json") + " --tokenizer " + path("ckpt") + " --out " +
                              path("squad.json"),
                          "is the same file as the input --data", dir_ / "squad.json");
}

TEST_F(HostileCli, BenchModelJsonOverTheModelIsRefusedAndTheModelSurvives) {
  ASSERT_EQ(fastbert("export --checkpoint " + path("ckpt") + " --out " + path("m.fbm") + " --precision fp32").rc, 0);
  fs::create_hard_link(dir_ / "m.fbm", dir_ / "same.fbm");
  expect_refused_and_kept("bench model --model " + path("m.fbm") + " --json " + path("same.fbm"),
                          "--json " + path("same.fbm") + " is the same file as the input --model", dir_ / "m.fbm");
  expect_refused_and_kept("bench model --model a=" + path("m.fbm") + " --json " + path("m.fbm"),
                          "is the same file as the input --model", dir_ / "m.fbm");
}

TEST_F(HostileCli, MakeDemoOverOtherDataIsRefusedWithoutForce) {
  const std::string demo = path("demo");
  ASSERT_EQ(fastbert("make-demo --out " + demo + " --train-articles 3 --dev-articles 1").rc, 0);
  // The same command again finds its own files: nothing to refuse.
  ASSERT_EQ(fastbert("make-demo --out " + demo + " --train-articles 3 --dev-articles 1").rc, 0);
  write_file_atomic(dir_ / "demo" / "train.json", "{\"my\": \"own data\"}");
  expect_refused_and_kept("make-demo --out " + demo + " --train-articles 3 --dev-articles 1",
                          "--out " + demo + " already holds train.json; pass --force", dir_ / "demo" / "train.json");
  // Other settings would rewrite every file: refused as well.
  expect_refused_and_kept("make-demo --out " + demo + " --seed 9", "already holds", dir_ / "demo" / "model" / "config.json");
  const Outcome forced = fastbert("make-demo --out " + demo + " --train-articles 3 --dev-articles 1 --force");
  EXPECT_EQ(forced.rc, 0) << forced.output;
  EXPECT_NE(read_file(dir_ / "demo" / "train.json").find("\"data\""), std::string::npos);
}

// ------------------------------------------------ numbers out of range

TEST_F(HostileCli, ThreadCountsOutOfRangeAreRefusedByEveryCommand) {
  const std::vector<std::string> commands = {
      "prepare --data " + path("squad.json") + " --tokenizer " + path("ckpt") + " --out " + path("f.h5"),
      "eval squad --data " + path("squad.json") + " --model " + path("ckpt"),
      "bench model --model " + path("m.fbm"),
      "bench kernels --shape 64x64 --m 8",
  };
  for (const std::string& command : commands)
    for (const char* threads : {"100000", "-1", "99999999999999999999"}) {
      const Outcome o = fastbert(command + " --threads " + threads);
      EXPECT_NE(o.rc, 0) << command << " --threads " << threads << "\n" << o.output;
      EXPECT_NE(o.output.find(std::string("--threads: ") + threads + " is out of range [0, 1024]"), std::string::npos)
          << command << "\n" << o.output;
    }
  EXPECT_FALSE(fs::exists(dir_ / "f.h5"));
}

TEST_F(HostileCli, ZeroOrNegativeCandidateCountsAreRefusedNotScoredZero) {
  for (const char* option : {"--n-best", "--max-answer-length"})
    for (const char* value : {"0", "-1"}) {
      const Outcome o = fastbert("eval squad --data " + path("squad.json") + " --model " + path("ckpt") + " " + option +
                                 " " + value);
      EXPECT_NE(o.rc, 0) << o.output;
      EXPECT_NE(o.output.find(std::string(option) + ": " + value + " is out of range [1, 8192]"), std::string::npos)
          << o.output;
    }
}

TEST_F(HostileCli, BenchBatchMinusOneIsARangeErrorNotAVectorError) {
  for (const char* batch : {"-1", "0", "100000"}) {
    const Outcome o = fastbert("bench model --model " + path("m.fbm") + " --batch 1," + batch);
    EXPECT_NE(o.rc, 0) << o.output;
    EXPECT_NE(o.output.find(std::string("--batch: ") + batch + " is out of range [1, 65536]"), std::string::npos)
        << o.output;
    EXPECT_EQ(o.output.find("max_size"), std::string::npos) << o.output;
  }
}

// ------------------------------------------------ sizes beyond the model or the machine

TEST_F(HostileCli, EvalMaxSeqBeyondTheModelIsRefusedBeforeAnyWindowIsMade) {
  // The tiny model has 64 positions.
  const Outcome o = fastbert("eval squad --data " + path("squad.json") + " --model " + path("ckpt") + " --max-seq 4096");
  EXPECT_NE(o.rc, 0) << o.output;
  EXPECT_NE(o.output.find("--max-seq 4096 exceeds the 64 positions of " + path("ckpt")), std::string::npos) << o.output;
  ASSERT_EQ(fastbert("export --checkpoint " + path("ckpt") + " --out " + path("m.fbm") + " --precision fp32").rc, 0);
  const Outcome fbm = fastbert("eval squad --data " + path("squad.json") + " --model " + path("m.fbm") + " --max-seq 4096");
  EXPECT_NE(fbm.output.find("--max-seq 4096 exceeds the 64 positions of " + path("m.fbm")), std::string::npos)
      << fbm.output;
  const Outcome huge = fastbert("eval squad --data " + path("squad.json") + " --model " + path("ckpt") + " --max-seq 100000");
  EXPECT_NE(huge.output.find("--max-seq: 100000 is out of range [8, 8192]"), std::string::npos) << huge.output;
}

TEST_F(HostileCli, BenchSizesBeyondTheMachinesMemoryAreRefusedBeforeAllocating) {
  const Outcome kernels = fastbert("bench kernels --shape 100000x100000 --m 128 --repeats 1");
  EXPECT_NE(kernels.rc, 0) << kernels.output;
  EXPECT_NE(kernels.output.find("bench kernels --shape 100000x100000 --m 128 needs about"), std::string::npos)
      << kernels.output;
  EXPECT_NE(kernels.output.find("MemAvailable"), std::string::npos) << kernels.output;

  // A model with 8192 positions, so that only memory limits the batch.
  testing::TinyBertSpec spec;
  spec.max_position = 8192;
  testing::TinyBert(spec).write_checkpoint(dir_ / "long");
  ASSERT_EQ(fastbert("export --checkpoint " + path("long") + " --out " + path("long.fbm") + " --precision fp32").rc, 0);
  const Outcome model = fastbert("bench model --model " + path("long.fbm") + " --batch 65536 --seq 8192 --threads 1");
  EXPECT_NE(model.rc, 0) << model.output;
  EXPECT_NE(model.output.find("bench model --batch 65536 --seq 8192 on " + path("long.fbm") + " needs about"),
            std::string::npos)
      << model.output;
}

// ------------------------------------------------ requests the machine cannot honour

TEST_F(HostileCli, AmxRequestOnACpuWithoutAmxIsRefusedAsAnyMissingIsa) {
  if (kernels::cpu_supports(kernels::Isa::amx))
    GTEST_SKIP() << "this CPU has AMX tiles: FASTBERT_ISA=amx is rightly accepted, its refusal needs a CPU without";
  ASSERT_EQ(fastbert("export --checkpoint " + path("ckpt") + " --out " + path("m.fbm") + " --precision fp32").rc, 0);
  // An fp32 model never asks the int8 GEMM level: the engine checks the request itself.
  const auto [rc, out] = run_command("FASTBERT_ISA=amx " + fastbert_ + " eval squad --data " + path("squad.json") +
                                     " --model " + path("m.fbm") + " --max-seq 32 2>&1");
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("error: FASTBERT_ISA=amx asks for an instruction set this CPU does not support: amx (it supports"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace fastbert
