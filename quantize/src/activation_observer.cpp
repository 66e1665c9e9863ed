#include "fastbert/quantize/activation_observer.h"

#include <algorithm>

namespace fastbert {

namespace {

// kthvalue on at most ~4M values: a larger input is strided down, which keeps
// calibration of big batches fast and changes a tail quantile very little.
double tail_quantile(const torch::Tensor& flat, double q) {
  auto x = flat;
  constexpr int64_t kMax = int64_t{1} << 22;
  if (x.numel() > kMax) x = x.slice(0, 0, x.numel(), (x.numel() + kMax - 1) / kMax);
  const int64_t n = x.numel();
  const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(q * static_cast<double>(n - 1)) + 1, 1, n);
  return std::get<0>(torch::kthvalue(x, k)).item<double>();
}

}  // namespace

void ActivationObserver::observe(const std::string& layer, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  auto flat = input.detach().reshape({-1}).to(torch::kFloat32);
  if (flat.numel() == 0) return;
  Range& r = ranges_[layer];
  if (method_ == CalibrationMethod::MinMax) {
    const double lo = flat.min().item<double>(), hi = flat.max().item<double>();
    r.min = r.batches ? std::min(r.min, lo) : lo;
    r.max = r.batches ? std::max(r.max, hi) : hi;
  } else {
    const double p = percentile_ / 100.0;
    const double lo = tail_quantile(flat, 1.0 - p), hi = tail_quantile(flat, p);
    r.min = (r.min * static_cast<double>(r.batches) + lo) / static_cast<double>(r.batches + 1);
    r.max = (r.max * static_cast<double>(r.batches) + hi) / static_cast<double>(r.batches + 1);
  }
  r.batches += 1;
}

}  // namespace fastbert
