#include "fastbert/quantize/quantization_file.h"

#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"

namespace fastbert {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string mode_name(QuantMode m) { return m == QuantMode::Ptq ? "ptq" : "qat"; }
std::string method_name(CalibrationMethod m) { return m == CalibrationMethod::MinMax ? "minmax" : "percentile"; }

}  // namespace

std::vector<std::string> all_linear_names(BertForQuestionAnswering& model) {
  std::vector<std::string> names;
  for (const auto& m : model->named_modules("", false))
    if (m.value()->as<torch::nn::Linear>()) names.push_back(m.key());
  return names;
}

void Quantization::set_activations(const ActivationObserver& observer) {
  for (const auto& [name, range] : observer.ranges()) {
    auto& l = layers[name];
    l.input_min = range.min;
    l.input_max = range.max;
    l.input = activation_quant(static_cast<float>(range.min), static_cast<float>(range.max));
    calibrated_batches = std::max(calibrated_batches, range.batches);
  }
}

void Quantization::set_weight_scales(BertForQuestionAnswering& model) {
  for (const auto& m : model->named_modules("", false))
    if (auto* linear = m.value()->as<torch::nn::Linear>()) {
      auto s = weight_scales(linear->weight).to(torch::kCPU).contiguous();
      layers[m.key()].weight_scales.assign(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
    }
}

LinearFn Quantization::fake_quant_linear() const {
  std::map<std::string, ActivationQuant> inputs;
  for (const auto& [name, l] : layers) inputs[name] = l.input;
  return [inputs](const std::string& name, torch::nn::LinearImpl& linear, const torch::Tensor& x) {
    auto it = inputs.find(name);
    if (it == inputs.end()) return torch::nn::functional::linear(x, linear.weight, linear.bias);
    return torch::nn::functional::linear(fake_quantize_activation(x, it->second), fake_quantize_weight(linear.weight),
                                         linear.bias);
  };
}

void Quantization::save(const fs::path& file) const {
  json j;
  j["format"] = "fastbert-quantization";
  j["version"] = 1;
  j["weights"] = {{"dtype", "s8"}, {"scheme", "symmetric_per_output_channel"}, {"qmax", 127}};
  j["activations"] = {{"dtype", "u8"}, {"scheme", "asymmetric_per_tensor"}};
  j["mode"] = mode_name(settings.mode);
  j["calibration"] = {{"method", method_name(settings.calibration)},
                      {"percentile", settings.percentile},
                      {"batches", calibrated_batches}};
  json ls = json::object();
  for (const auto& [name, l] : layers)
    ls[name] = {{"weight_scales", l.weight_scales},
                {"input_scale", l.input.scale},
                {"input_zero_point", l.input.zero_point},
                {"input_min", l.input_min},
                {"input_max", l.input_max}};
  j["layers"] = ls;
  write_file_atomic(file, j.dump(1) + "\n");
}

Quantization Quantization::load(const fs::path& file) {
  if (!fs::exists(file)) throw Error(file.string() + ": no such file");
  json j;
  try {
    j = json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw Error(file.string() + ": not valid JSON (" + e.what() + ")");
  }
  std::string key = "format";
  try {
    if (j.at("format") != "fastbert-quantization" || j.at("version") != 1)
      throw Error(file.string() + ": not a fastbert quantization file of version 1");
    Quantization q;
    key = "mode";
    const std::string mode = j.at("mode").get<std::string>();
    if (mode != "ptq" && mode != "qat") throw Error(file.string() + ": key 'mode': expected ptq or qat, got " + mode);
    q.settings.mode = mode == "ptq" ? QuantMode::Ptq : QuantMode::Qat;
    key = "calibration";
    const std::string method = j.at("calibration").at("method").get<std::string>();
    if (method != "minmax" && method != "percentile")
      throw Error(file.string() + ": key 'calibration.method': expected minmax or percentile, got " + method);
    q.settings.calibration = method == "minmax" ? CalibrationMethod::MinMax : CalibrationMethod::Percentile;
    q.settings.percentile = j.at("calibration").at("percentile").get<double>();
    q.calibrated_batches = j.at("calibration").at("batches").get<int64_t>();
    for (const auto& [name, l] : j.at("layers").items()) {
      key = "layers." + name;
      LinearQuantization lq;
      lq.weight_scales = l.at("weight_scales").get<std::vector<float>>();
      lq.input.scale = l.at("input_scale").get<float>();
      lq.input.zero_point = l.at("input_zero_point").get<int32_t>();
      lq.input_min = l.at("input_min").get<double>();
      lq.input_max = l.at("input_max").get<double>();
      if (!(lq.input.scale > 0) || lq.input.zero_point < 0 || lq.input.zero_point > 255)
        throw Error(file.string() + ": key '" + key + "': input_scale must be > 0 and input_zero_point in [0, 255]");
      for (float s : lq.weight_scales)
        if (!(s > 0)) throw Error(file.string() + ": key '" + key + ".weight_scales': scales must be > 0");
      q.layers[name] = std::move(lq);
    }
    return q;
  } catch (const json::exception& e) {
    throw Error(file.string() + ": key '" + key + "': missing or of the wrong type (" + e.what() + ")");
  }
}

}  // namespace fastbert
