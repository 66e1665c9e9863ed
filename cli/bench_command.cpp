// `fastbert bench kernels`: the kernel benchmark (bench/); `bench model` is in bench_model_command.cpp.
#include <iostream>

#include "commands.h"
#include "fastbert/bench/kernels_bench.h"
#include "option_checks.h"

namespace fastbert::cli {

void register_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "measure fastbert's speed");
  bench->require_subcommand(1);
  CLI::App* kernels = bench->add_subcommand(
      "kernels", "block-sparse int8 SpMM vs oneDNN dense int8/fp32 on BERT shapes, and the VNNI peak");
  auto options = std::make_shared<bench::KernelBenchOptions>();
  auto shapes = std::make_shared<std::vector<std::string>>();
  kernels->add_option("--shape", *shapes, "KxN (input x output features); repeatable or comma list")
      ->delimiter(',');
  kernels->add_option("--m", options->ms, "tokens M; repeatable or comma list")
      ->delimiter(',')
      ->check(integer_in(1, 1 << 20));
  kernels->add_option("--sparsity", options->sparsities, "block sparsity in percent; repeatable or comma list")
      ->delimiter(',');
  kernels->add_option("--csv", options->csv, "write the results as CSV");
  kernels->add_option("--plot", options->plot, "write a PNG plot of speedup vs sparsity (gnuplot)");
  kernels->add_option("--repeats", options->repeats, "interleaved samples per point (median)")
      ->capture_default_str()
      ->check(integer_in(1, 10000));
  kernels->add_flag("--fresh", options->fresh, "fresh activations for every call (not cache-hot)");
  kernels->add_option("--threads", options->threads, "threads (0: all cores)")
      ->capture_default_str()
      ->check(thread_count());
  kernels->add_flag("--cpu-time", options->cpu_time,
                    "time with the thread's CPU clock (needs --threads 1; for machines shared with other jobs)");
  kernels->callback([options, shapes] {
    options->shapes.clear();
    for (const auto& s : *shapes) options->shapes.push_back(bench::parse_kernel_shape(s));
    bench::run_kernel_bench(*options, std::cout);
  });
  register_bench_model(*bench);
}

}  // namespace fastbert::cli
