#pragma once
// The one check every command makes before it writes: no output may destroy
// one of its inputs, and existing user data is replaced only when asked.
#include <filesystem>
#include <string>
#include <vector>

namespace fastbert {

// A path as the user gave it, with the option or key that gave it ("--out",
// "data.train"), for messages.
struct NamedPath {
  std::string name;
  std::filesystem::path path;
};

// Throws fastbert::Error, naming both paths, when an output
//   - is one of the inputs,
//   - is an existing file inside an input directory (a checkpoint's
//     model.safetensors when the checkpoint is read), or
//   - is an existing directory that holds an input,
// or when two outputs are the same file. Paths are compared by identity
// (device and inode of the file, and for an output that does not exist yet,
// of its directory plus its name), never by spelling: "./a", a symlink, a
// hard link or a bind mount of an input are caught too. A new file inside an
// input directory destroys nothing and is allowed. Empty paths are skipped.
void refuse_outputs_over_inputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs);

// Throws fastbert::Error listing the entries of `names` that already exist
// under `output.path`, unless `force`: for commands that write several files
// into a directory the user names (user data might be there).
void refuse_to_replace(const NamedPath& output, const std::vector<std::string>& names, bool force);

}  // namespace fastbert
