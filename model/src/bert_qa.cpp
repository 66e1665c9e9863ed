#include "fastbert/model/bert_qa.h"

#include <cmath>

#include "fastbert/model/dropout.h"

namespace fastbert {
namespace F = torch::nn::functional;

namespace {

torch::nn::LayerNorm make_layer_norm(const BertConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

}  // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) : dropout_p(c.hidden_dropout_prob) {
  word_embeddings = register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings =
      register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings =
      register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", make_layer_norm(c));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  const int64_t seq = input_ids.size(1);
  auto positions = torch::arange(seq, input_ids.options()).unsqueeze(0);
  auto x = word_embeddings(input_ids) + token_type_embeddings(token_type_ids) + position_embeddings(positions);
  return apply_dropout(LayerNorm(x), dropout_p, is_training());
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c)
    : num_heads(c.num_attention_heads), head_size(c.head_size()), dropout_p(c.attention_probs_dropout_prob) {
  query = register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additive_mask) {
  const int64_t b = hidden.size(0), s = hidden.size(1);
  auto heads = [&](const torch::Tensor& x) { return x.view({b, s, num_heads, head_size}).transpose(1, 2); };
  auto q = heads(query(hidden));
  auto k = heads(key(hidden));
  auto v = heads(value(hidden));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_size));
  auto probs = torch::softmax(scores + additive_mask, -1);
  probs = apply_dropout(probs, dropout_p, is_training());
  auto context = torch::matmul(probs, v).transpose(1, 2).contiguous();
  return context.view({b, s, num_heads * head_size});
}

BertResidualOutputImpl::BertResidualOutputImpl(int64_t in_features, const BertConfig& c)
    : dropout_p(c.hidden_dropout_prob) {
  dense = register_module("dense", torch::nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", make_layer_norm(c));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& hidden, const torch::Tensor& residual) {
  return LayerNorm(apply_dropout(dense(hidden), dropout_p, is_training()) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c.hidden_size, c));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additive_mask) {
  return output(self(hidden, additive_mask), hidden);
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : activation(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& hidden) {
  auto x = dense(hidden);
  if (activation == "gelu") return torch::gelu(x);  // exact erf form, as HF's "gelu"
  if (activation == "relu") return torch::relu(x);
  return torch::gelu(x, "tanh");  // gelu_new / gelu_pytorch_tanh
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c.intermediate_size, c));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& hidden, const torch::Tensor& additive_mask) {
  auto attended = attention(hidden, additive_mask);
  return output(intermediate(attended), attended);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(BertLayer(c));
}

torch::Tensor BertEncoderImpl::forward(torch::Tensor hidden, const torch::Tensor& additive_mask) {
  for (const auto& l : *layer) hidden = l->as<BertLayer>()->forward(hidden, additive_mask);
  return hidden;
}

BertModelImpl::BertModelImpl(const BertConfig& c) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  encoder = register_module("encoder", BertEncoder(c));
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                     const torch::Tensor& attention_mask) {
  // Like HF: padding gets the most negative float added before the softmax.
  auto additive =
      (1.0 - attention_mask.to(torch::kFloat).unsqueeze(1).unsqueeze(2)) * std::numeric_limits<float>::lowest();
  return encoder(embeddings(input_ids, token_type_ids), additive);
}

BertForQuestionAnsweringImpl::BertForQuestionAnsweringImpl(const BertConfig& c) : config(c) {
  config.validate();
  bert = register_module("bert", BertModel(c));
  qa_outputs = register_module("qa_outputs", torch::nn::Linear(c.hidden_size, 2));
  init_weights();
}

QaLogits BertForQuestionAnsweringImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                               const torch::Tensor& attention_mask) {
  // fp32 whatever precision the matmuls ran in (autocast), so losses on them are fp32.
  auto logits = qa_outputs(bert(input_ids, token_type_ids, attention_mask)).to(torch::kFloat32);
  auto parts = logits.split(1, -1);
  return {parts[0].squeeze(-1).contiguous(), parts[1].squeeze(-1).contiguous()};
}

void BertForQuestionAnsweringImpl::init_weights() {
  torch::NoGradGuard no_grad;
  const double std = config.initializer_range;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::Linear>()) {
      linear->weight.normal_(0, std);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* emb = m->as<torch::nn::Embedding>()) {
      emb->weight.normal_(0, std);
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      ln->weight.fill_(1);
      ln->bias.zero_();
    }
  }
  auto& words = bert->embeddings->word_embeddings->weight;
  if (config.pad_token_id >= 0 && config.pad_token_id < config.vocab_size) words[config.pad_token_id].zero_();
}

void BertForQuestionAnsweringImpl::init_qa_head() {
  torch::NoGradGuard no_grad;
  qa_outputs->weight.normal_(0, config.initializer_range);
  qa_outputs->bias.zero_();
}

QaLogits mask_padding(const QaLogits& logits, const torch::Tensor& attention_mask) {
  const auto pad = attention_mask.eq(0);
  return {logits.start.masked_fill(pad, kPaddingLogit), logits.end.masked_fill(pad, kPaddingLogit)};
}

torch::Tensor qa_loss(const QaLogits& logits, const torch::Tensor& attention_mask, const torch::Tensor& start_positions,
                      const torch::Tensor& end_positions) {
  const QaLogits masked = mask_padding(logits, attention_mask);
  return (F::cross_entropy(masked.start, start_positions) + F::cross_entropy(masked.end, end_positions)) / 2;
}

}  // namespace fastbert
