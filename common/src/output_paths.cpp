#include "fastbert/common/output_paths.h"

#include <sys/stat.h>

#include <optional>

#include "fastbert/common/error.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

struct FileId {
  dev_t device;
  ino_t inode;
  bool operator==(const FileId& o) const { return device == o.device && inode == o.inode; }
};

// Follows symlinks: a link to an input is that input.
std::optional<FileId> file_id(const fs::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// The identities of the existing directories that contain `p`, nearest first
// (symlinks in the path resolved, so a linked parent is its target).
std::vector<FileId> ancestor_ids(const fs::path& p) {
  std::error_code ec;
  fs::path at = fs::weakly_canonical(fs::absolute(p, ec), ec);
  if (ec) at = fs::absolute(p).lexically_normal();
  std::vector<FileId> out;
  while (at.has_relative_path()) {
    at = at.parent_path();
    if (auto id = file_id(at)) out.push_back(*id);
  }
  return out;
}

bool contains(const std::vector<FileId>& ids, const FileId& id) {
  for (const auto& i : ids)
    if (i == id) return true;
  return false;
}

[[noreturn]] void refuse(const NamedPath& out, const std::string& relation, const NamedPath& in) {
  throw Error(out.name + " " + out.path.string() + " " + relation + " " + in.name + " " + in.path.string() +
              ": writing it would destroy an input; choose another output path");
}

// An output's identity: the file's when it exists, else its directory's plus
// its name (two spellings of one new file are still one file).
struct OutputId {
  std::optional<FileId> file, dir;
  std::string name;
  bool operator==(const OutputId& o) const {
    if (file || o.file) return file && o.file && *file == *o.file;
    return dir && o.dir && *dir == *o.dir && name == o.name;
  }
};

OutputId output_id(const fs::path& p) {
  OutputId id;
  id.file = file_id(p);
  if (!id.file) {
    std::error_code ec;
    const fs::path abs = fs::weakly_canonical(fs::absolute(p, ec), ec);
    id.dir = file_id(abs.parent_path());
    id.name = abs.filename().string();
  }
  return id;
}

}  // namespace

void refuse_outputs_over_inputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const NamedPath& out = outputs[o];
    if (out.path.empty()) continue;
    const std::optional<FileId> out_id = file_id(out.path);
    if (out_id) {
      const std::vector<FileId> out_ancestors = ancestor_ids(out.path);
      const bool out_is_dir = is_dir(out.path);
      for (const NamedPath& in : inputs) {
        if (in.path.empty()) continue;
        const std::optional<FileId> in_id = file_id(in.path);
        if (!in_id) continue;  // nothing there to destroy (the command refuses a missing input itself)
        if (*in_id == *out_id) refuse(out, "is the same file as the input", in);
        if (is_dir(in.path) && contains(out_ancestors, *in_id)) refuse(out, "lies inside the input", in);
        if (out_is_dir && contains(ancestor_ids(in.path), *out_id)) refuse(out, "is a directory that holds the input", in);
      }
    }
    for (std::size_t p = 0; p < o; ++p)
      if (!outputs[p].path.empty() && output_id(outputs[p].path) == output_id(out.path))
        throw Error(out.name + " " + out.path.string() + " and " + outputs[p].name + " " + outputs[p].path.string() +
                    " are the same file: one output would overwrite the other");
  }
}

void refuse_to_replace(const NamedPath& output, const std::vector<std::string>& names, bool force) {
  if (force) return;
  std::string existing;
  for (const auto& n : names) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(output.path / n, ec)))
      existing += (existing.empty() ? "" : ", ") + n;
  }
  if (!existing.empty())
    throw Error(output.name + " " + output.path.string() + " already holds " + existing +
                "; pass --force to replace them (nothing was written)");
}

}  // namespace fastbert
