#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <utility>

namespace fastbert::testing {

// Runs a shell command as a user would; returns its exit status (-1 when it
// did not exit normally) and its stdout.
inline std::pair<int, std::string> run_command(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace fastbert::testing
