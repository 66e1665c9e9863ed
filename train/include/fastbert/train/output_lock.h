#pragma once
#include <filesystem>

namespace fastbert {

// An exclusive lock on a training run's output directory, held by the one
// process that writes it (rank 0) for as long as this object lives: a
// second trainer started on the same output (a resumed run while the first
// still runs, say) would otherwise load the same checkpoint and the two
// would overwrite each other's saves. flock(2) on OUTPUT/.fastbert-train.lock,
// so the kernel releases it when the holder exits or is killed, and a stale
// file never blocks anyone. Not thread-safe; one per run.
class OutputLock {
 public:
  // Creates `dir` if needed, then takes the lock or throws fastbert::Error
  // naming the directory and the process id recorded by the holder.
  explicit OutputLock(const std::filesystem::path& dir);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace fastbert
