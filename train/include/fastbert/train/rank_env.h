#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace fastbert {

// The most ranks one run may have: far above any job this trainer would see,
// and small enough that every per-rank table stays trivial.
constexpr int kMaxRanks = 4096;

// The c10d process group that carries the collectives: Gloo (CPU, TCP) or
// NCCL (CUDA GPUs; needs a LibTorch built with it).
enum class CommBackend { Gloo, Nccl };

const char* comm_backend_name(CommBackend b);

// Where this process stands in a data-parallel run, from the variables that
// torchrun (and `fastbert-train ... --nproc N`) sets: RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE (optional), MASTER_ADDR, MASTER_PORT.
struct RankEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;  // ranks on this host: they share its cores
  std::string master_addr;   // rank 0's host, which serves the rendezvous store
  int master_port = 0;
};

// None when WORLD_SIZE is unset (a plain single-process run). Otherwise every
// variable is checked: a missing one, a value that is not an integer in range,
// or RANK >= WORLD_SIZE throws fastbert::Error naming the variable and value.
std::optional<RankEnv> rank_env_from_environment();

}  // namespace fastbert
