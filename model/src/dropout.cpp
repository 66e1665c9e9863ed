#include "fastbert/model/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/PhiloxRNGEngine.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace fastbert {

namespace {

// Elements per Philox subsequence: each task of the parallel loop starts its
// own engine at its subsequence, so the noise is the same however the
// elements are split between threads.
constexpr int64_t kChunk = 4096;

uint64_t draw_key() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

torch::Tensor philox_keep_scaled(const torch::Tensor& like, double p) {
  const uint64_t key = draw_key();
  const double keep = 1.0 - p;
  // keep iff a uniform 32-bit draw is below keep * 2^32.
  const uint64_t threshold = static_cast<uint64_t>(std::llround(keep * 4294967296.0));
  auto noise = torch::empty(like.sizes(), like.options().memory_format(at::MemoryFormat::Contiguous));
  const int64_t n = noise.numel();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, noise.scalar_type(), "fastbert_dropout", [&] {
    // As torch::dropout scales (noise.div_(1 - p)): 1 - p rounded to the
    // tensor's type first, then 1 divided by it, rounded again.
    const scalar_t scale = static_cast<scalar_t>(1) / static_cast<scalar_t>(keep);
    const scalar_t zero = static_cast<scalar_t>(0);
    scalar_t* out = noise.data_ptr<scalar_t>();
    at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
      for (int64_t c = first; c < last; ++c) {
        at::Philox4_32 engine(key, static_cast<uint64_t>(c), 0);
        const int64_t end = std::min(n, (c + 1) * kChunk);
        for (int64_t i = c * kChunk; i < end; ++i) out[i] = static_cast<uint64_t>(engine()) < threshold ? scale : zero;
      }
    });
  });
  return noise;
}

}  // namespace

torch::Tensor apply_dropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  // The serial draw is a CPU problem; on a GPU LibTorch's own is parallel.
  if (!x.device().is_cpu()) return torch::dropout(x, p, training);
  torch::Tensor noise;
  {
    torch::NoGradGuard no_grad;
    noise = philox_keep_scaled(x, p);
  }
  return x * noise;
}

}  // namespace fastbert
