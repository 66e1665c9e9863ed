#pragma once
#include <string>
#include <vector>

namespace fastbert::cli {

// The training side lives in its own executable, `fastbert-train`, installed
// beside `fastbert` (LibTorch and Debian's libsentencepiece cannot share a
// process). FASTBERT_TRAIN_BIN overrides where it is looked for.
std::string training_tool_path();

// Replaces this process with `fastbert-train args...`; returns only on failure
// (after printing why).
int exec_training_tool(const std::vector<std::string>& args);

// Runs `fastbert-train args...` as a child and returns its exit status.
int run_training_tool(const std::vector<std::string>& args);

// Path of a sibling executable of the running one (e.g. "fastbert").
std::string sibling_executable(const std::string& name);

}  // namespace fastbert::cli
