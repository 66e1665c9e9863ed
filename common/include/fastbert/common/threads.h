#pragma once

namespace fastbert {

// The most threads an option or a recipe may ask for. Above the hardware
// threads of today's largest servers (2 sockets x 192 cores x 2 = 768) and
// far below what breaks libgomp (--threads 100000 crashed inside it). A fixed
// number rather than a multiple of this machine's cores, so that a recipe
// means the same on every machine.
constexpr int kMaxThreads = 1024;

// The whole runtime parallelises with OpenMP (oneDNN and LibTorch in Debian use
// libgomp too, so one pool serves all of them and nothing oversubscribes).
// n == 0 means: the number of cores available to this process. n outside
// [0, kMaxThreads] throws fastbert::Error (callers check their option's
// range first, naming it; this is the backstop).
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
