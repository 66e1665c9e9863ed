#pragma once
#include <cstdint>
#include <filesystem>

namespace fastbert {

// LibTorch fp32 eager forward of a checkpoint on random full-length windows,
// the baseline `fastbert bench model --compare-checkpoint` sets the runtime
// against (measured here because `fastbert` never links LibTorch).
struct ForwardTiming {
  double seq_per_s = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
  int64_t iterations = 0;
};
ForwardTiming bench_forward(const std::filesystem::path& checkpoint, int64_t batch, int64_t seq, double min_seconds);

}  // namespace fastbert
