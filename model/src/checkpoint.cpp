#include "fastbert/model/checkpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/formats/safetensors.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

torch::Dtype torch_dtype(SafetensorsDType d, const std::string& where) {
  switch (d) {
    case SafetensorsDType::F64:
      return torch::kFloat64;
    case SafetensorsDType::F32:
      return torch::kFloat32;
    case SafetensorsDType::F16:
      return torch::kFloat16;
    case SafetensorsDType::BF16:
      return torch::kBFloat16;
    default:
      throw Error(where + ": dtype " + std::string(dtype_name(d)) + " is not a floating-point weight");
  }
}

// Maps a checkpoint tensor name onto our parameter names; empty = not ours.
std::string canonical_name(std::string name) {
  if (ends_with(name, ".gamma")) name = name.substr(0, name.size() - 6) + ".weight";  // pre-2019 HF names
  if (ends_with(name, ".beta")) name = name.substr(0, name.size() - 5) + ".bias";
  if (starts_with(name, "embeddings.") || starts_with(name, "encoder.")) name = "bert." + name;
  return name;
}

bool ignorable(const std::string& name) {
  return ends_with(name, "position_ids") || starts_with(name, "pooler.") || starts_with(name, "bert.pooler.") ||
         starts_with(name, "cls.");
}

}  // namespace

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {"vocab.txt",      "tokenizer_config.json",
                                                 "tokenizer.json", "special_tokens_map.json",
                                                 "spiece.model",   "sentencepiece.bpe.model"};
  return names;
}

BertForQuestionAnswering load_bert_qa(const fs::path& dir, CheckpointLoadInfo* info) {
  CheckpointLoadInfo local;
  CheckpointLoadInfo& out = info ? *info : local;
  out = {};
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": not a checkpoint directory");
  const BertConfig config = BertConfig::load(dir / "config.json");
  BertForQuestionAnswering model(config);

  const fs::path weights = dir / "model.safetensors";
  if (!fs::exists(weights)) {
    if (fs::exists(dir / "pytorch_model.bin"))
      throw Error(dir.string() + ": has pytorch_model.bin but no model.safetensors; convert it to safetensors first");
    out.random_init = true;
    spdlog::info("{}: no model.safetensors, every weight is randomly initialised", dir.string());
    return model;
  }

  const SafetensorsFile file = read_safetensors(weights);
  std::map<std::string, torch::Tensor> params;
  for (auto& p : model->named_parameters()) params.emplace(p.key(), p.value());

  std::set<std::string> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& t : file.tensors) {
    const std::string name = canonical_name(t.name);
    const std::string where = weights.string() + ": tensor '" + t.name + "'";
    auto it = params.find(name);
    if (it == params.end()) {
      if (ignorable(name)) {
        out.ignored.push_back(t.name);
        continue;
      }
      throw Error(where + " is not a parameter of a BERT QA model with this config.json (" +
                  std::to_string(config.num_hidden_layers) + " layers)");
    }
    if (!loaded.insert(name).second) throw Error(where + " is stored twice (with and without the 'bert.' prefix)");
    std::vector<int64_t> want = it->second.sizes().vec();
    if (t.shape != want)
      throw Error(where + ": shape " + c10::str(c10::IntArrayRef(t.shape)) + " but config.json implies " +
                  c10::str(c10::IntArrayRef(want)));
    auto src = torch::from_blob(const_cast<char*>(t.data.data()), t.shape, torch_dtype(t.dtype, where));
    it->second.copy_(src.to(torch::kFloat32));
  }

  std::vector<std::string> missing;
  for (const auto& [name, tensor] : params)
    if (!loaded.count(name)) missing.push_back(name);
  const bool head_missing = !missing.empty() && std::all_of(missing.begin(), missing.end(), [](const std::string& n) {
    return starts_with(n, "qa_outputs.");
  });
  if (head_missing && missing.size() == 2) {
    model->init_qa_head();
    out.qa_head_initialised = true;
    spdlog::info("{}: no question-answering head in the checkpoint, qa_outputs initialised from N(0, {})", dir.string(),
                 config.initializer_range);
  } else if (!missing.empty()) {
    throw Error(weights.string() + ": missing tensor '" + missing.front() + "' (and " +
                std::to_string(missing.size() - 1) + " more)");
  }
  if (!out.ignored.empty())
    spdlog::debug("{}: ignored {} tensors not used for question answering", dir.string(), out.ignored.size());
  return model;
}

void write_bert_qa_files(BertForQuestionAnswering& model, const fs::path& dir, const fs::path& tokenizer_dir) {
  SafetensorsFile file;
  file.metadata["format"] = "pt";
  for (const auto& p : model->named_parameters()) {
    auto t = p.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    SafetensorsTensor st;
    st.name = p.key();
    st.dtype = SafetensorsDType::F32;
    st.shape = t.sizes().vec();
    st.data.assign(static_cast<const char*>(t.data_ptr()), t.numel() * sizeof(float));
    file.add(std::move(st));
  }
  write_safetensors(dir / "model.safetensors", file);
  write_file_atomic(dir / "config.json", model->config.to_json().dump(2) + "\n");
  if (!tokenizer_dir.empty()) {
    for (const auto& name : tokenizer_file_names()) {
      const fs::path src = tokenizer_dir / name;
      if (fs::exists(src) && !fs::equivalent(tokenizer_dir, dir))
        fs::copy_file(src, dir / name, fs::copy_options::overwrite_existing);
    }
  }
}

void save_bert_qa(BertForQuestionAnswering& model, const fs::path& dir, const fs::path& tokenizer_dir) {
  AtomicPath out(dir);
  fs::create_directories(out.temp_path());
  write_bert_qa_files(model, out.temp_path(), tokenizer_dir);
  out.commit();
}

}  // namespace fastbert
