#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "fastbert/quantize/quantize_settings.h"

namespace fastbert {

// Collects the range of every linear input over calibration batches.
//   minmax: the smallest and largest value seen in any batch.
//   percentile p: per batch the (100 - p)% and p% quantiles, averaged over the
//     batches (a mean of per-batch quantiles is stable under outliers and needs
//     no histogram of the whole data set).
class ActivationObserver {
 public:
  ActivationObserver(CalibrationMethod method, double percentile) : method_(method), percentile_(percentile) {}

  void observe(const std::string& layer, const torch::Tensor& input);

  struct Range {
    double min = 0, max = 0;
    int64_t batches = 0;
  };
  const std::map<std::string, Range>& ranges() const { return ranges_; }

 private:
  CalibrationMethod method_;
  double percentile_;
  std::map<std::string, Range> ranges_;
};

}  // namespace fastbert
