#include "commands.h"

namespace fastbert::cli {

void register_commands(CLI::App& app) {
  register_demo(app);
}

}  // namespace fastbert::cli
