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
  take(j, "vocab_size", c.vocab_size, source);
  take(j, "hidden_size", c.hidden_size, source);
  take(j, "num_hidden_layers", c.num_hidden_layers, source);
  take(j, "num_attention_heads", c.num_attention_heads, source);
  take(j, "intermediate_size", c.intermediate_size, source);
  take(j, "hidden_act", c.hidden_act, source);
  take(j, "hidden_dropout_prob", c.hidden_dropout_prob, source);
  take(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, source);
  take(j, "max_position_embeddings", c.max_position_embeddings, source);
  take(j, "type_vocab_size", c.type_vocab_size, source);
  take(j, "initializer_range", c.initializer_range, source);
  take(j, "layer_norm_eps", c.layer_norm_eps, source);
  take(j, "pad_token_id", c.pad_token_id, source);
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
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["intermediate_size"] = intermediate_size;
  j["hidden_act"] = hidden_act;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["max_position_embeddings"] = max_position_embeddings;
  j["type_vocab_size"] = type_vocab_size;
  j["initializer_range"] = initializer_range;
  j["layer_norm_eps"] = layer_norm_eps;
  j["pad_token_id"] = pad_token_id;
  j["position_embedding_type"] = "absolute";
  return j;
}

}  // namespace fastbert
