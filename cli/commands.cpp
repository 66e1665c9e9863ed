#include "commands.h"

namespace fastbert::cli {

void register_commands(CLI::App& app) {
  register_demo(app);
  register_prepare(app);
  register_eval(app);
  register_bench(app);
  register_export(app);
  register_serve(app);
}

}  // namespace fastbert::cli
