#pragma once
#include <filesystem>
#include <string>

namespace fastbert {

// Refuses, before anything opens it, a path that is not a readable regular
// file: missing, a directory, a FIFO or device (which would block or never
// end), a dangling symlink or a symlink loop. The fastbert::Error names the
// path, `what` it should have been ("model file", "tokenized-data file") and
// what it is instead.
void require_regular_file(const std::filesystem::path& path, const std::string& what);

}  // namespace fastbert
