#include "fastbert/train/rank_env.h"

#include <cstdlib>

#include "fastbert/common/bounded_number.h"
#include "fastbert/common/error.h"

namespace fastbert {

const char* comm_backend_name(CommBackend b) { return b == CommBackend::Gloo ? "gloo" : "nccl"; }

namespace {

const char* variable(const char* name, bool required) {
  const char* v = std::getenv(name);
  if ((!v || !*v) && required)
    throw Error(std::string("environment variable ") + name +
                " is not set, but WORLD_SIZE is: a rank of a data-parallel run needs RANK, WORLD_SIZE, "
                "LOCAL_RANK, MASTER_ADDR and MASTER_PORT (as torchrun sets them)");
  return v && *v ? v : nullptr;
}

int integer_variable(const char* name, int64_t min, int64_t max) {
  return static_cast<int>(
      parse_bounded_integer(std::string("environment variable ") + name, variable(name, true), min, max));
}

}  // namespace

std::optional<RankEnv> rank_env_from_environment() {
  if (!variable("WORLD_SIZE", false)) return std::nullopt;
  RankEnv env;
  env.world_size = integer_variable("WORLD_SIZE", 1, kMaxRanks);
  env.rank = integer_variable("RANK", 0, env.world_size - 1);
  env.local_world_size =
      variable("LOCAL_WORLD_SIZE", false) ? integer_variable("LOCAL_WORLD_SIZE", 1, env.world_size) : 1;
  env.local_rank = integer_variable("LOCAL_RANK", 0, env.world_size - 1);
  if (env.local_rank >= env.local_world_size && variable("LOCAL_WORLD_SIZE", false))
    throw Error("environment variable LOCAL_RANK: " + std::to_string(env.local_rank) +
                " is not below LOCAL_WORLD_SIZE " + std::to_string(env.local_world_size));
  env.master_addr = variable("MASTER_ADDR", true);
  env.master_port = integer_variable("MASTER_PORT", 1, 65535);
  return env;
}

}  // namespace fastbert
