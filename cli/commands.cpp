#include "commands.h"

namespace fastbert::cli {

void register_commands(CLI::App& app) {
}

}  // namespace fastbert::cli
