#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/common/output_paths.h"
#include "test_dir.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

std::string refusal(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  try {
    refuse_outputs_over_inputs(inputs, outputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class OutputPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "ckpt");
    write_file_atomic(dir_ / "data.json", "{}");
    write_file_atomic(dir_ / "ckpt" / "model.safetensors", "weights");
    write_file_atomic(dir_ / "ckpt" / "vocab.txt", "[PAD]\n");
  }
  testing::TestDir dir_{"fastbert-test-output-paths"};
};

TEST_F(OutputPaths, OutputPathThatIsAnInputIsRefused) {
  const std::string msg = refusal({{"--data", dir_ / "data.json"}}, {{"--predictions-out", dir_ / "data.json"}});
  EXPECT_NE(msg.find("--predictions-out " + (dir_ / "data.json").string() + " is the same file as the input --data"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("would destroy an input"), std::string::npos) << msg;
}

TEST_F(OutputPaths, AnotherSpellingALinkOrAHardLinkOfAnInputIsTheInput) {
  fs::create_symlink(dir_ / "data.json", dir_ / "link.json");
  fs::create_hard_link(dir_ / "data.json", dir_ / "hard.json");
  fs::create_directory_symlink(dir_ / "ckpt", dir_ / "ckpt-link");
  const NamedPath data{"--data", dir_ / "data.json"};
  for (const fs::path& out : {dir_ / "ckpt" / ".." / "data.json", dir_ / "link.json", dir_ / "hard.json"})
    EXPECT_NE(refusal({data}, {{"--out", out}}), "") << out;
  EXPECT_NE(refusal({{"--checkpoint", dir_ / "ckpt-link"}}, {{"--out", dir_ / "ckpt" / "model.safetensors"}}), "");
  EXPECT_NE(refusal({{"--checkpoint", dir_ / "ckpt"}}, {{"--out", dir_ / "ckpt-link" / "vocab.txt"}}), "");
  // Relative to the working directory.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_.path());
  const std::string relative = refusal({data}, {{"--out", "./data.json"}});
  fs::current_path(cwd);
  EXPECT_NE(relative, "");
}

TEST_F(OutputPaths, ExistingFileInsideAnInputDirectoryIsRefusedANewOneIsNot) {
  const std::string msg = refusal({{"--checkpoint", dir_ / "ckpt"}}, {{"--out", dir_ / "ckpt" / "model.safetensors"}});
  EXPECT_NE(msg.find("lies inside the input --checkpoint " + (dir_ / "ckpt").string()), std::string::npos) << msg;
  EXPECT_EQ(refusal({{"--checkpoint", dir_ / "ckpt"}}, {{"--out", dir_ / "ckpt" / "model.fbm"}}), "");
  EXPECT_EQ(refusal({{"--data", dir_ / "data.json"}}, {{"--out", dir_ / "other.json"}}), "");
}

TEST_F(OutputPaths, OutputDirectoryThatHoldsAnInputIsRefused) {
  const std::string msg = refusal({{"--tokenizer", dir_ / "ckpt" / "vocab.txt"}}, {{"--out", dir_ / "ckpt"}});
  EXPECT_NE(msg.find("is a directory that holds the input --tokenizer"), std::string::npos) << msg;
}

TEST_F(OutputPaths, TwoOutputsThatAreOneFileAreRefusedEvenBeforeTheyExist) {
  const std::string msg = refusal({}, {{"--csv", dir_ / "k.out"}, {"--plot", dir_ / "ckpt" / ".." / "k.out"}});
  EXPECT_NE(msg.find("are the same file"), std::string::npos) << msg;
  EXPECT_EQ(refusal({}, {{"--csv", dir_ / "k.csv"}, {"--plot", dir_ / "k.png"}}), "");
}

TEST_F(OutputPaths, EmptyAndMissingPathsAreSkipped) {
  EXPECT_EQ(refusal({{"--predictions", ""}, {"--data", dir_ / "nowhere.json"}}, {{"--out", ""}, {"--json", dir_ / "x"}}),
            "");
}

TEST_F(OutputPaths, ReplacingExistingFilesNeedsForce) {
  try {
    refuse_to_replace({"--out", dir_ / "ckpt"}, {"vocab.txt", "config.json", "model.safetensors"}, false);
    FAIL() << "existing files would be replaced without --force";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already holds vocab.txt, model.safetensors; pass --force"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(refuse_to_replace({"--out", dir_ / "ckpt"}, {"vocab.txt"}, true));
  EXPECT_NO_THROW(refuse_to_replace({"--out", dir_ / "ckpt"}, {"config.json"}, false));
}

}  // namespace
}  // namespace fastbert
