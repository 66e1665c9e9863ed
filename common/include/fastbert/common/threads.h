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

}  // namespace fastbert
