#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "fastbert/model/bert_qa.h"

namespace fastbert {

// Computes a linear layer: given the layer's name ("bert.encoder.layer.0.
// attention.self.query", ..., "qa_outputs"), the module and its input, returns
// its output. Quantization-aware training and calibration use it to see and
// fake-quantize the input and weight of every linear.
using LinearFn = std::function<torch::Tensor(const std::string& name, torch::nn::LinearImpl& linear,
                                             const torch::Tensor& input)>;

struct ForwardTrace {
  QaLogits logits;
  // hidden[0]: embeddings output, hidden[i]: output of encoder layer i (1-based);
  // empty unless asked for. Distillation maps student to teacher layers by index.
  std::vector<torch::Tensor> hidden;
};

// The same computation as BertForQuestionAnswering::forward (tests hold them
// equal), but every linear goes through `linear` (plain F::linear when empty)
// and the hidden states can be kept.
ForwardTrace traced_forward(BertForQuestionAnswering& model, const torch::Tensor& input_ids,
                            const torch::Tensor& token_type_ids, const torch::Tensor& attention_mask,
                            const LinearFn& linear, bool keep_hidden);

}  // namespace fastbert
