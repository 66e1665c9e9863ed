#pragma once

namespace fastbert {

// The whole runtime parallelises with OpenMP (oneDNN and LibTorch in Debian use
// libgomp too, so one pool serves all of them and nothing oversubscribes).
// n <= 0 means: the number of cores available to this process.
void set_num_threads(int n);
int num_threads();

}  // namespace fastbert
