#include "fastbert/model/traced_forward.h"

#include <cmath>
#include <limits>

#include "fastbert/model/dropout.h"

namespace fastbert {

ForwardTrace traced_forward(BertForQuestionAnswering& model, const torch::Tensor& input_ids,
                            const torch::Tensor& token_type_ids, const torch::Tensor& attention_mask,
                            const LinearFn& linear_fn, bool keep_hidden) {
  auto lin = [&](const std::string& name, torch::nn::Linear& l, const torch::Tensor& x) {
    if (linear_fn) return linear_fn(name, *l, x);
    return torch::nn::functional::linear(x, l->weight, l->bias);
  };
  ForwardTrace trace;
  auto& bert = model->bert;
  auto additive = (1.0 - attention_mask.to(torch::kFloat).unsqueeze(1).unsqueeze(2)) *
                  std::numeric_limits<float>::lowest();
  auto hidden = bert->embeddings->forward(input_ids, token_type_ids);
  if (keep_hidden) trace.hidden.push_back(hidden.to(torch::kFloat32));
  int64_t index = 0;
  for (const auto& module : *bert->encoder->layer) {
    auto* layer = module->as<BertLayerImpl>();
    const std::string prefix = "bert.encoder.layer." + std::to_string(index++) + ".";
    auto& self = layer->attention->self;
    const bool training = layer->is_training();
    const int64_t b = hidden.size(0), s = hidden.size(1);
    auto heads = [&](const torch::Tensor& x) { return x.view({b, s, self->num_heads, self->head_size}).transpose(1, 2); };
    auto q = heads(lin(prefix + "attention.self.query", self->query, hidden));
    auto k = heads(lin(prefix + "attention.self.key", self->key, hidden));
    auto v = heads(lin(prefix + "attention.self.value", self->value, hidden));
    auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(self->head_size));
    auto probs = apply_dropout(torch::softmax(scores + additive, -1), self->dropout_p, training);
    auto context = torch::matmul(probs, v).transpose(1, 2).contiguous().view({b, s, self->num_heads * self->head_size});
    auto& ao = layer->attention->output;
    auto attended = ao->LayerNorm(apply_dropout(lin(prefix + "attention.output.dense", ao->dense, context), ao->dropout_p, training) + hidden);
    auto& inter = layer->intermediate;
    auto x = lin(prefix + "intermediate.dense", inter->dense, attended);
    if (inter->activation == "gelu") x = torch::gelu(x);
    else if (inter->activation == "relu") x = torch::relu(x);
    else x = torch::gelu(x, "tanh");
    auto& out = layer->output;
    hidden = out->LayerNorm(apply_dropout(lin(prefix + "output.dense", out->dense, x), out->dropout_p, training) + attended);
    if (keep_hidden) trace.hidden.push_back(hidden.to(torch::kFloat32));
  }
  // fp32 whatever precision the matmuls ran in (autocast), so losses on them are fp32.
  auto logits = lin("qa_outputs", model->qa_outputs, hidden).to(torch::kFloat32);
  auto parts = logits.split(1, -1);
  trace.logits = {parts[0].squeeze(-1).contiguous(), parts[1].squeeze(-1).contiguous()};
  return trace;
}

}  // namespace fastbert
