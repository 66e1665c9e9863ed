#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"

namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("fastbert-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(AtomicFile, WriteThenReadReturnsSameBytes) {
  auto d = fresh_dir("rw");
  std::string bytes("a\0b\nc", 5);
  fastbert::write_file_atomic(d / "x.bin", bytes);
  EXPECT_EQ(fastbert::read_file(d / "x.bin"), bytes);
  fs::remove_all(d);
}

TEST(AtomicFile, UncommittedWriteLeavesOldFileIntactAndNoTemp) {
  auto d = fresh_dir("uncommitted");
  fastbert::write_file_atomic(d / "x.bin", "old");
  {
    fastbert::AtomicPath p(d / "x.bin");
    std::ofstream(p.temp_path()) << "half-written";
    // destroyed without commit(), as when an exception unwinds a writer
  }
  EXPECT_EQ(fastbert::read_file(d / "x.bin"), "old");
  int files = 0;
  for (auto& e : fs::directory_iterator(d)) { (void)e; ++files; }
  EXPECT_EQ(files, 1);
  fs::remove_all(d);
}

TEST(AtomicFile, KilledWriterNeverExposesPartialFile) {
  auto d = fresh_dir("killed");
  fastbert::write_file_atomic(d / "x.bin", "complete-old-version");
  pid_t pid = fork();
  if (pid == 0) {
    fastbert::AtomicPath p(d / "x.bin");
    std::ofstream(p.temp_path()) << "partial";
    _exit(9);  // dies before commit, destructors never run
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(fastbert::read_file(d / "x.bin"), "complete-old-version");
  fs::remove_all(d);
}

TEST(AtomicFile, DirectoryCommitReplacesExistingDirectory) {
  auto d = fresh_dir("dir");
  fs::create_directories(d / "ckpt");
  std::ofstream(d / "ckpt" / "old.txt") << "old";
  {
    fastbert::AtomicPath p(d / "ckpt");
    fs::create_directories(p.temp_path());
    std::ofstream(p.temp_path() / "new.txt") << "new";
    p.commit();
  }
  EXPECT_TRUE(fs::exists(d / "ckpt" / "new.txt"));
  EXPECT_FALSE(fs::exists(d / "ckpt" / "old.txt"));
  fs::remove_all(d);
}

TEST(AtomicFile, ReadMissingFileThrowsWithPath) {
  try {
    fastbert::read_file("/nonexistent/fastbert/file");
    FAIL() << "expected an error";
  } catch (const fastbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fastbert/file"), std::string::npos);
  }
}

// A killed export left "<out>.tmp-<pid>" (a whole fp32 model for its
// calibration) that nothing removed; the next writer of the same file now
// removes those of processes that are gone and leaves a live writer's alone.
TEST(AtomicFile, TemporariesOfKilledWritersAreRemovedByTheNextWriter) {
  auto d = fresh_dir("stale");
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);  // reaped: its pid no longer runs
  const std::string dead = std::to_string(child);
  std::ofstream(d / ("m.fbm.calibration.tmp-" + dead)) << "fp32 model of a killed export";
  std::ofstream(d / ("m.fbm.tmp-" + dead)) << "half an int8 model";
  std::ofstream(d / "m.fbm.tmp-1") << "pid 1 runs: another writer";
  std::ofstream(d / ("other.fbm.tmp-" + dead)) << "another file's temporary";
  { fastbert::AtomicPath calibration(d / "m.fbm.calibration"); }
  EXPECT_FALSE(fs::exists(d / ("m.fbm.calibration.tmp-" + dead)));
  fastbert::write_file_atomic(d / "m.fbm", "model");
  EXPECT_FALSE(fs::exists(d / ("m.fbm.tmp-" + dead)));
  EXPECT_TRUE(fs::exists(d / "m.fbm.tmp-1"));
  EXPECT_TRUE(fs::exists(d / ("other.fbm.tmp-" + dead)));
  fs::remove_all(d);
}
