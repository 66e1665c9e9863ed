// `fastbert`: one front for every step. Runtime-side commands run here;
// training-side commands (train, prune, distill, quantize) are handed to the
// `fastbert-train` executable unchanged.
#include <CLI/CLI.hpp>

#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "run_app.h"
#include "training_tool.h"

int main(int argc, char** argv) {
  static const std::set<std::string> kTrainingCommands = {"train", "prune", "distill", "quantize"};
  if (argc >= 2 && kTrainingCommands.count(argv[1])) {
    return fastbert::cli::exec_training_tool(std::vector<std::string>(argv + 1, argv + argc));
  }

  CLI::App app{"fastbert: prune, distil, quantize, export and run BERT question answering on CPUs"};
  app.require_subcommand(1);
  // Listed for --help only; dispatched above before parsing.
  for (const auto& name : kTrainingCommands)
    app.add_subcommand(name, "(training side) run `fastbert " + name + " --help`")->allow_extras();

  fastbert::cli::register_commands(app);

  return fastbert::cli::run_app(app, argc, argv);
}
