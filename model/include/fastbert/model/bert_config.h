#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace fastbert {

// The fields of a Hugging Face BertConfig that define the network. Keys we do
// not model are kept in `extra` and written back, so a round trip through
// fastbert does not lose what transformers put there.
struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  nlohmann::json extra = nlohmann::json::object();

  int64_t head_size() const { return hidden_size / num_attention_heads; }
  // Throws fastbert::Error naming the first impossible value.
  void validate() const;

  // `source` names the file in error messages.
  static BertConfig from_json(const nlohmann::json& j, const std::string& source);
  static BertConfig load(const std::filesystem::path& config_json);
  // HF layout with architectures = ["BertForQuestionAnswering"].
  nlohmann::json to_json() const;
};

}  // namespace fastbert
