#pragma once
// The one temporary-directory helper of the tests: a fresh directory under
// the system's temp folder, named after the process, the running test and a
// counter (tests of one binary may run in parallel under ctest, and one test
// may want several), removed when it goes out of scope.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace fastbert::testing {

class TestDir {
 public:
  explicit TestDir(const std::string& prefix = "fastbert-test") : path_(unique_path(prefix)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TestDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }

 private:
  static std::filesystem::path unique_path(const std::string& prefix) {
    static std::atomic<int> counter{0};
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::filesystem::temp_directory_path() /
           (prefix + "-" + std::to_string(::getpid()) + "-" + (test ? test->name() : "suite") + "-" +
            std::to_string(counter++));
  }

  std::filesystem::path path_;
};

}  // namespace fastbert::testing
