// A full disk while exporting (issue 13, class 5): simulated with a file-size
// limit (RLIMIT_FSIZE via `ulimit -f` in a child shell, SIGXFSZ ignored so a
// write fails with EFBIG as on a full disk). The export must fail with a
// clear error and exit status 1 — it used to print "cannot write ... (disk
// full?)" and then segfault inside libhdf5's shutdown (139) — and leave no
// temporary file behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "run_command.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

TEST(FullDisk, ExportOntoAFullDiskFailsWithAClearErrorNoCrashAndNoLeftovers) {
  const auto [probe_rc, probe] = testing::run_command("sh -c \"trap '' XFSZ; ulimit -f 16 && echo limited\" 2>&1");
  if (probe_rc != 0 || probe.find("limited") == std::string::npos)
    GTEST_SKIP() << "cannot set a file-size limit (ulimit -f) in a child shell here: " << probe;
  testing::TestDir dir("fastbert-test-full-disk");
  testing::TinyBertSpec spec;
  spec.hidden = 128;
  spec.intermediate = 512;
  spec.block_sparsity = 0.8;
  testing::TinyBert model(spec);
  model.write_calibrated_checkpoint(dir / "ckpt", 2, 16, 1);
  fs::create_directories(dir / "out");
  const std::string fastbert = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert";
  // ulimit -f counts 512-byte blocks in sh: from inside the header to the last dataset.
  for (const int blocks : {1, 8, 64, 400}) {
    for (const char* precision : {"fp32", "int8"}) {
      const std::string cmd = "sh -c \"trap '' XFSZ; ulimit -f " + std::to_string(blocks) + "; exec " + fastbert +
                              " export --checkpoint " + (dir / "ckpt").string() + " --out " +
                              (dir / "out" / "m.fbm").string() + " --precision " + precision + "\" 2>&1";
      const auto [rc, out] = testing::run_command(cmd);
      SCOPED_TRACE(std::to_string(blocks) + " blocks, " + precision + ": " + out);
      EXPECT_EQ(rc, 1) << "expected a clean failure (1), not a crash (-1) or success";
      EXPECT_NE(out.find("m.fbm"), std::string::npos) << "the error names the file";
      EXPECT_TRUE(out.find("disk full") != std::string::npos || out.find("File too large") != std::string::npos);
      EXPECT_TRUE(fs::is_empty(dir / "out")) << "a temporary file was left behind";
    }
  }
}

}  // namespace
}  // namespace fastbert
