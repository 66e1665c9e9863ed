#include <iostream>

#include "commands.h"
#include "demo_data.h"

namespace fastbert::cli {

void register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("make-demo", "write the built-in tiny model and synthetic SQuAD data");
  auto out = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(1234);
  auto sizes = std::make_shared<DemoSizes>();
  cmd->add_option("--out", *out, "output directory")->required();
  cmd->add_option("--seed", *seed, "random seed")->capture_default_str();
  cmd->add_option("--train-articles", sizes->train_articles)->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--dev-articles", sizes->dev_articles)->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([=] {
    write_demo(*out, *seed, *sizes);
    std::cout << "wrote " << *out << "/{train.json,dev.json,model/}\n";
  });
}

}  // namespace fastbert::cli
