#pragma once
#include <chrono>
#include <string>
#include <vector>

namespace fastbert {

// `fastbert-train ... --nproc N`: runs `argv` (this program's command line
// without --nproc) N times, as ranks 0..N-1 of one data-parallel run on this
// host, with the variables torchrun would set (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT a free port). It
// supervises them: when one fails it says which and how, stops the others
// (SIGTERM, then SIGKILL after `grace`) and returns that rank's status; a
// SIGINT or SIGTERM to it is passed on to every rank. Returns 0 when every
// rank finished. Throws fastbert::Error when it is itself run as a rank.
int run_local_ranks(int nproc, const std::vector<std::string>& argv,
                    std::chrono::milliseconds grace = std::chrono::seconds(10));

// A command line without its `--nproc N` / `--nproc=N`.
std::vector<std::string> without_nproc_option(const std::vector<std::string>& args);

}  // namespace fastbert
