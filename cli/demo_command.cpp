#include <filesystem>
#include <iostream>

#include "commands.h"
#include "demo_data.h"
#include "fastbert/common/atomic_file.h"
#include "fastbert/common/output_paths.h"
#include "option_checks.h"

namespace fastbert::cli {
namespace fs = std::filesystem;

void register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("make-demo", "write the built-in tiny model and synthetic SQuAD data");
  auto out = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(1234);
  auto sizes = std::make_shared<DemoSizes>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("--out", *out, "output directory")->required();
  cmd->add_option("--seed", *seed, "random seed")->capture_default_str();
  cmd->add_option("--train-articles", sizes->train_articles)->capture_default_str()->check(integer_in(1, 100000));
  cmd->add_option("--dev-articles", sizes->dev_articles)->capture_default_str()->check(integer_in(1, 100000));
  cmd->add_flag("--force", *force, "replace the data and model config of an earlier make-demo in --out");
  cmd->callback([=] {
    // Running it again with the same settings finds its own files and
    // rewrites nothing that differs; anything else there is the user's.
    const auto files = demo_files(*seed, *sizes);
    std::vector<std::string> differing;
    for (const auto& [name, bytes] : files) {
      std::error_code ec;
      const fs::path p = fs::path(*out) / name;
      if (fs::exists(fs::symlink_status(p, ec)) && !(fs::is_regular_file(p, ec) && read_file(p) == bytes))
        differing.push_back(name);
    }
    refuse_to_replace({"--out", *out}, differing, *force);
    write_demo(*out, *seed, *sizes);
    std::cout << "wrote " << *out << "/{train.json,dev.json,model/}\n";
  });
}

}  // namespace fastbert::cli
