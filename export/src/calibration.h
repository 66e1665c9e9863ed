#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "fastbert/export/checkpoint_reader.h"

namespace fastbert {

// Min-max calibration of the int8 activation ranges with the runtime itself
// (no LibTorch): runs the fp32 export `fp32_model` over the first
// `max_windows` windows of `data` (a features .h5 or a SQuAD .json, tokenized
// with the model's own tokenizer) and returns, per checkpoint linear name, the
// u8 input scale/zero point of the compression stage's rule plus the s8
// per-row weight scales (max|w| / 127).
std::map<std::string, LinearQuantization> calibrate_int8(const Checkpoint& checkpoint,
                                                          const std::filesystem::path& fp32_model,
                                                          const std::filesystem::path& data, int64_t max_windows);

}  // namespace fastbert
