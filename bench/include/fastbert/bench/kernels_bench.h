#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace fastbert::bench {

struct KernelShape {
  int64_t k = 0, n = 0;  // input features x output features
};

// `fastbert bench kernels`: fastbert's block-sparse SpMM against oneDNN's dense
// int8 and fp32 matmuls on BERT shapes, interleaved per point, medians.
struct KernelBenchOptions {
  std::vector<KernelShape> shapes;   // empty: the BERT shapes
  std::vector<int64_t> ms;           // empty: 128, 384, 1024, 4096
  std::vector<double> sparsities;    // percent; empty: 70, 75, 80, 85, 90
  int repeats = 11;
  bool fresh = false;    // new activations (not in cache) for every call
  int threads = 0;       // 0: all cores available
  // Time with the thread's CPU clock instead of the wall clock (threads == 1
  // only): on a machine shared with other jobs this leaves out the time the
  // scheduler gives them.
  bool cpu_time = false;
  std::string csv;       // write the table as CSV
  std::string plot;      // write a PNG (speedup vs sparsity per shape) via gnuplot
};

// Parses "768x3072" (K x N); throws fastbert::Error on anything else.
KernelShape parse_kernel_shape(const std::string& text);

void run_kernel_bench(const KernelBenchOptions& options, std::ostream& out);

}  // namespace fastbert::bench
