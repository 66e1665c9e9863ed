#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace fastbert {

// Writes go to "<path>.tmp-<pid>" and are renamed over `path` only after the
// data is flushed to disk, so a killed process or a full disk never leaves a
// half-written file under the final name.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// For writers that need a path of their own (HDF5, directories): write to
// temp_path(), then commit(). Destroying an uncommitted AtomicPath removes the
// temporary file or directory; creating one removes the temporaries of
// `final_path` that killed processes left ("<final>.tmp-<pid>" of a pid that
// no longer runs).
class AtomicPath {
 public:
  explicit AtomicPath(std::filesystem::path final_path);
  ~AtomicPath();
  AtomicPath(const AtomicPath&) = delete;
  AtomicPath& operator=(const AtomicPath&) = delete;

  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }
  // fsyncs regular files, then renames. A directory target replaces an
  // existing directory of the same name.
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

std::string read_file(const std::filesystem::path& path);

}  // namespace fastbert
