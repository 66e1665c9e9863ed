#pragma once

namespace fastbert {

// The whole runtime parallelises with OpenMP (oneDNN and LibTorch in Debian use
// libgomp too, so one pool serves all of them and nothing oversubscribes).
// n <= 0 means: the number of cores available to this process.
void set_num_threads(int n);
int num_threads();

// Sets the calling thread's OpenMP thread count for its lifetime and restores
// the previous one after (n <= 0: leaves it alone). OpenMP keeps that count
// per thread, so this changes nothing for other threads or later code.
class ScopedNumThreads {
 public:
  explicit ScopedNumThreads(int n);
  ~ScopedNumThreads();
  ScopedNumThreads(const ScopedNumThreads&) = delete;
  ScopedNumThreads& operator=(const ScopedNumThreads&) = delete;

 private:
  int previous_;
  bool changed_;
};

}  // namespace fastbert
