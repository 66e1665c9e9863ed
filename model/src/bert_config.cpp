#include "fastbert/model/bert_config.h"

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"

namespace fastbert {
namespace {

using json = nlohmann::json;

template <typename T>
void take(const json& j, const char* key, T& out, const std::string& source) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw Error(source + ": key '" + key + "': expected a string, got " + v.dump());
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) throw Error(source + ": key '" + key + "': expected an integer, got " + v.dump());
  } else {
    if (!v.is_number()) throw Error(source + ": key '" + key + "': expected a number, got " + v.dump());
  }
  out = v.get<T>();
}

// Every key BertConfig models, with its field, listed once: from_json reads
// them in this order (the first bad one is the one reported), to_json writes
// them. `Config` is BertConfig or const BertConfig.
template <class Config, class Visit>
void for_each_field(Config& c, Visit&& visit) {
  visit("vocab_size", c.vocab_size);
  visit("hidden_size", c.hidden_size);
  visit("num_hidden_layers", c.num_hidden_layers);
  visit("num_attention_heads", c.num_attention_heads);
  visit("intermediate_size", c.intermediate_size);
  visit("hidden_act", c.hidden_act);
  visit("hidden_dropout_prob", c.hidden_dropout_prob);
  visit("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  visit("max_position_embeddings", c.max_position_embeddings);
  visit("type_vocab_size", c.type_vocab_size);
  visit("initializer_range", c.initializer_range);
  visit("layer_norm_eps", c.layer_norm_eps);
  visit("pad_token_id", c.pad_token_id);
}

// Keys transformers writes that describe training/runtime, not the network,
// and that we regenerate ourselves.
const char* const kRegenerated[] = {"architectures", "model_type"};

}  // namespace

void BertConfig::validate() const {
  auto fail = [](const std::string& what) { throw Error("invalid BERT config: " + what); };
  if (vocab_size <= 0) fail("vocab_size must be positive");
  if (hidden_size <= 0) fail("hidden_size must be positive");
  if (num_hidden_layers < 0) fail("num_hidden_layers must be >= 0");
  if (num_attention_heads <= 0 || hidden_size % num_attention_heads != 0)
    fail("hidden_size " + std::to_string(hidden_size) + " is not a multiple of num_attention_heads " +
         std::to_string(num_attention_heads));
  if (intermediate_size <= 0) fail("intermediate_size must be positive");
  if (max_position_embeddings <= 0) fail("max_position_embeddings must be positive");
  if (type_vocab_size <= 0) fail("type_vocab_size must be positive");
  if (hidden_dropout_prob < 0 || hidden_dropout_prob >= 1) fail("hidden_dropout_prob must be in [0, 1)");
  if (attention_probs_dropout_prob < 0 || attention_probs_dropout_prob >= 1)
    fail("attention_probs_dropout_prob must be in [0, 1)");
  if (layer_norm_eps <= 0) fail("layer_norm_eps must be positive");
  if (hidden_act != "gelu" && hidden_act != "gelu_new" && hidden_act != "gelu_pytorch_tanh" && hidden_act != "relu")
    fail("hidden_act '" + hidden_act + "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)");
}

BertConfig BertConfig::from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": config is not a JSON object");
  if (j.contains("model_type") && j["model_type"] != "bert")
    throw Error(source + ": model_type " + j["model_type"].dump() + " is not \"bert\"");
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    throw Error(source + ": position_embedding_type " + j["position_embedding_type"].dump() +
                " is not supported (only \"absolute\")");
  BertConfig c;
  for_each_field(c, [&](const char* key, auto& field) { take(j, key, field, source); });
  const json known = c.to_json();
  for (const auto& [key, value] : j.items())
    if (!known.contains(key)) c.extra[key] = value;
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return c;
}

BertConfig BertConfig::load(const std::filesystem::path& config_json) {
  if (!std::filesystem::exists(config_json)) throw Error(config_json.string() + ": no such file");
  json j;
  try {
    j = json::parse(read_file(config_json));
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double's range
    throw Error(config_json.string() + ": not valid JSON: " + e.what());
  }
  return from_json(j, config_json.string());
}

json BertConfig::to_json() const {
  json j = extra;
  for (const char* key : kRegenerated) j.erase(key);
  j["architectures"] = {"BertForQuestionAnswering"};
  j["model_type"] = "bert";
  for_each_field(*this, [&](const char* key, const auto& field) { j[key] = field; });
  j["position_embedding_type"] = "absolute";
  return j;
}

}  // namespace fastbert
