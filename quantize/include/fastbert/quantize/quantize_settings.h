#pragma once
#include <cstdint>

namespace fastbert {

enum class QuantMode { Ptq, Qat };
enum class CalibrationMethod { MinMax, Percentile };

// The `quantize:` section of a recipe stage (plain data for the recipe parser).
struct QuantizeSettings {
  bool enabled = false;
  QuantMode mode = QuantMode::Ptq;
  CalibrationMethod calibration = CalibrationMethod::MinMax;
  double percentile = 99.99;     // percentile calibration: the range covers [100 - p, p] %
  int64_t calibration_batches = 16;
  int64_t start_step = 0;        // qat: fake quantization from this step of the stage on
};

}  // namespace fastbert
