#pragma once
#include <CLI/CLI.hpp>

namespace fastbert::cli {

// Each runtime-side subcommand lives in its own file as register_<name>(app),
// which adds the subcommand and its callback.
void register_commands(CLI::App& app);

void register_demo(CLI::App& app);
void register_prepare(CLI::App& app);
void register_eval(CLI::App& app);
void register_bench(CLI::App& app);
void register_export(CLI::App& app);
void register_serve(CLI::App& app);
// `bench model`, added to the `bench` subcommand by register_bench.
void register_bench_model(CLI::App& bench);

}  // namespace fastbert::cli
