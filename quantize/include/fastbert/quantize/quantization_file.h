#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fastbert/model/bert_qa.h"
#include "fastbert/model/traced_forward.h"
#include "fastbert/quantize/activation_observer.h"
#include "fastbert/quantize/int8_numerics.h"
#include "fastbert/quantize/quantize_settings.h"

namespace fastbert {

// quantization.json (docs/checkpoint.md): the model-wide settings and, per
// linear layer, the per-output-channel weight scales and the u8 input scale
// and zero point. Plain JSON so `fastbert export` reads it without LibTorch.
struct LinearQuantization {
  std::vector<float> weight_scales;  // one per output row
  ActivationQuant input;
  double input_min = 0, input_max = 0;  // calibrated range, for the record
};

struct Quantization {
  QuantizeSettings settings;
  int64_t calibrated_batches = 0;
  std::map<std::string, LinearQuantization> layers;  // by linear name ("qa_outputs", "bert.encoder...")

  // Input scale and zero point of every linear from calibrated ranges;
  // weight scales from the model's current weights.
  void set_activations(const ActivationObserver& observer);
  void set_weight_scales(BertForQuestionAnswering& model);

  // A LinearFn that fake-quantizes the input and the weight of every linear
  // that has calibrated activations (all of them after set_activations).
  LinearFn fake_quant_linear() const;

  void save(const std::filesystem::path& file) const;  // atomic
  // Throws fastbert::Error naming the file and key for anything malformed.
  static Quantization load(const std::filesystem::path& file);
};

// The names of every linear layer of the model (encoder linears and qa_outputs).
std::vector<std::string> all_linear_names(BertForQuestionAnswering& model);

}  // namespace fastbert
