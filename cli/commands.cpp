#include "commands.h"

namespace fastbert::cli {

void register_commands(CLI::App& app) {
  register_bench(app);
}

}  // namespace fastbert::cli
