// fastbert-train allocates with jemalloc (linked in, cli/CMakeLists.txt), set
// never to hand freed pages back to the kernel.
//
// Why: a training step frees and reallocates gigabytes of activations in
// sizes that change with every batch (group_by_length). glibc's heap kept
// the holes those left (the full-data MiniLM fine-tune grew from 5.4 to 9.3
// GB in 80 steps), and trimming it every 10 steps, as before, re-faulted a
// step's working set each time. Measured on the MiniLM frontier recipe, 40
// prune + distill steps, interleaved, AMD EPYC Zen 4, 2 threads:
//   glibc, trimmed every 10 steps:   132-133 s, 19.3-19.4 s system, 7.19 GB peak
//   jemalloc, default 10 s decay:    223 s, 178 s system (it purges constantly)
//   jemalloc, never purging (this):  121-122 s, 6.2-6.4 s system, 3.93 GB peak
// with the same losses step for step. A user's MALLOC_CONF still applies on
// top (jemalloc reads it after this string).
// Resident size on the long run: session 9's frontier process grew from 4.0
// GB at step 150 to 4.84 GB at step 540 (about 2.7 MB a step), with no
// allocator statistics to say why. Session 10's process, which logs them
// (allocator_memory_note below, on every progress line), held 664 MB live
// and 3,907 MB resident at step 1,040, 3,925 MB at 1,500 and no more through
// the recover_s50 stage: what stays resident is the transient working set of
// the largest step so far, and the growth did not recur. Should it, the two
// numbers tell live memory (the program's) from retained pages (then
// MALLOC_CONF=dirty_decay_ms:N bounds them, at the cost measured above).
#include "train_allocator.h"

#include <jemalloc/jemalloc.h>

#include <cstdint>
#include <cstdio>

extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's documented interface.
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}

namespace fastbert::cli {

std::string allocator_memory_note() {
  // jemalloc's statistics are a snapshot taken when "epoch" is written.
  uint64_t epoch = 1;
  size_t epoch_size = sizeof(epoch);
  if (mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size) != 0) return {};
  size_t allocated = 0, resident = 0;
  size_t size = sizeof(size_t);
  if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0) return {};
  size = sizeof(size_t);
  if (mallctl("stats.resident", &resident, &size, nullptr, 0) != 0) return {};
  char text[96];
  std::snprintf(text, sizeof(text), "heap %.0f MB live, %.0f MB resident", allocated / 1e6, resident / 1e6);
  return text;
}

}  // namespace fastbert::cli
