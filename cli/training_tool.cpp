#include "training_tool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "fastbert/common/error.h"

namespace fastbert::cli {
namespace fs = std::filesystem;

std::string sibling_executable(const std::string& name) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot locate the running executable: " + ec.message());
  return (self.parent_path() / name).string();
}

std::string training_tool_path() {
  if (const char* env = std::getenv("FASTBERT_TRAIN_BIN"); env && *env) return env;
  return sibling_executable("fastbert-train");
}

namespace {

std::vector<char*> make_argv(const std::string& tool, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(tool.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

void check_tool(const std::string& tool) {
  if (::access(tool.c_str(), X_OK) != 0)
    throw Error("training executable not found at " + tool +
                " (this build has no training side; build with -DFASTBERT_BUILD_TRAINING=ON "
                "or set FASTBERT_TRAIN_BIN)");
}

}  // namespace

int exec_training_tool(const std::vector<std::string>& args) {
  const std::string tool = training_tool_path();
  check_tool(tool);
  auto argv = make_argv(tool, args);
  ::execv(tool.c_str(), argv.data());
  std::cerr << "error: cannot execute " << tool << ": " << std::strerror(errno) << "\n";
  return 127;
}

int run_training_tool(const std::vector<std::string>& args) {
  const std::string tool = training_tool_path();
  check_tool(tool);
  auto argv = make_argv(tool, args);
  pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    ::execv(tool.c_str(), argv.data());
    std::cerr << "error: cannot execute " << tool << ": " << std::strerror(errno) << "\n";
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error(std::string("waitpid failed: ") + std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    std::cerr << "error: " << tool << " killed by signal " << WTERMSIG(status) << "\n";
    return 128 + WTERMSIG(status);
  }
  return 1;
}

}  // namespace fastbert::cli
