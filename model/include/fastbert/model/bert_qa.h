#pragma once
#include <torch/torch.h>

#include "fastbert/model/bert_config.h"

namespace fastbert {

// BERT for extractive question answering, laid out module by module like
// Hugging Face's BertForQuestionAnswering so that named_parameters() yields
// exactly HF's names ("bert.encoder.layer.0.attention.self.query.weight", ...).
// Every encoder linear layer is a plain torch::nn::Linear reachable by name, so
// pruning masks and fake quantization can later be attached per layer.

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const BertConfig& c);
  // input_ids, token_type_ids: int64 [B,S]
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  double dropout_p;
};
TORCH_MODULE(BertEmbeddings);

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const BertConfig& c);
  // additive_mask: [B,1,1,S], 0 for real tokens and a large negative number for padding
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additive_mask);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  int64_t num_heads, head_size;
  double dropout_p;
};
TORCH_MODULE(BertSelfAttention);

// Dense + dropout + residual + LayerNorm: HF's BertSelfOutput and BertOutput.
struct BertResidualOutputImpl : torch::nn::Module {
  BertResidualOutputImpl(int64_t in_features, const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& residual);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  double dropout_p;
};
TORCH_MODULE(BertResidualOutput);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additive_mask);

  BertSelfAttention self{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& hidden);

  torch::nn::Linear dense{nullptr};
  std::string activation;
};
TORCH_MODULE(BertIntermediate);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& additive_mask);

  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertLayer);

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const BertConfig& c);
  torch::Tensor forward(torch::Tensor hidden, const torch::Tensor& additive_mask);

  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(BertEncoder);

// HF's BertModel without the pooler (question answering does not use it).
struct BertModelImpl : torch::nn::Module {
  explicit BertModelImpl(const BertConfig& c);
  // attention_mask: [B,S], 1 = real token. Returns the last hidden states [B,S,H].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                        const torch::Tensor& attention_mask);

  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
};
TORCH_MODULE(BertModel);

struct QaLogits {
  torch::Tensor start;  // [B,S]
  torch::Tensor end;    // [B,S]
};

struct BertForQuestionAnsweringImpl : torch::nn::Module {
  explicit BertForQuestionAnsweringImpl(const BertConfig& c);
  QaLogits forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                   const torch::Tensor& attention_mask);
  // HF's _init_weights: normal(0, initializer_range) for linear and embedding
  // weights, zero biases, LayerNorm to (1, 0), padding embedding row zeroed.
  void init_weights();
  void init_qa_head();

  // Where the parameters live (the training device); every input and
  // tensor made for this model goes there.
  torch::Device device() const { return parameters().front().device(); }

  BertConfig config;
  BertModel bert{nullptr};
  torch::nn::Linear qa_outputs{nullptr};
};
TORCH_MODULE(BertForQuestionAnswering);

// HF's QA loss, the mean of the start and end cross-entropies, except that
// padding positions are excluded from the softmax: then the loss of a window
// does not depend on how much padding its batch carries, and cutting padding
// off a batch changes nothing.
torch::Tensor qa_loss(const QaLogits& logits, const torch::Tensor& attention_mask, const torch::Tensor& start_positions,
                      const torch::Tensor& end_positions);

// Logits with padding positions set to kPaddingLogit.
constexpr float kPaddingLogit = -10000.0f;
QaLogits mask_padding(const QaLogits& logits, const torch::Tensor& attention_mask);

}  // namespace fastbert
