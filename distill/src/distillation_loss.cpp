#include "fastbert/distill/distillation_loss.h"

#include "fastbert/common/error.h"

namespace fastbert {

namespace {

torch::Tensor kl_one(const torch::Tensor& student, const torch::Tensor& teacher, const torch::Tensor& real,
                     double t) {
  // A large finite negative (not -inf) keeps 0 * log 0 terms at exactly zero.
  auto s = (student / t).masked_fill(real.logical_not(), -1e4);
  auto te = (teacher.to(student.dtype()) / t).masked_fill(real.logical_not(), -1e4);
  auto log_p_s = torch::log_softmax(s, -1);
  auto log_p_t = torch::log_softmax(te, -1);
  return (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1).mean();
}

}  // namespace

torch::Tensor distillation_kl(const QaLogits& student, const QaLogits& teacher, const torch::Tensor& attention_mask,
                              double temperature) {
  if (student.start.sizes() != teacher.start.sizes() || student.end.sizes() != teacher.end.sizes())
    throw Error("distillation: student logits " + std::to_string(student.start.size(1)) +
                " positions wide, teacher logits " + std::to_string(teacher.start.size(1)));
  auto real = attention_mask.ne(0);
  return (kl_one(student.start, teacher.start, real, temperature) + kl_one(student.end, teacher.end, real, temperature)) /
         2 * (temperature * temperature);
}

torch::Tensor hidden_state_mse(const std::vector<torch::Tensor>& student, const std::vector<torch::Tensor>& teacher,
                               const std::vector<std::pair<int64_t, int64_t>>& layer_map,
                               const torch::Tensor& attention_mask) {
  if (layer_map.empty()) throw Error("distillation: hidden_mse needs a non-empty layer_map");
  auto real = attention_mask.to(torch::kFloat).unsqueeze(-1);
  const auto tokens = real.sum().clamp_min(1);
  torch::Tensor total;
  for (const auto& [si, ti] : layer_map) {
    if (si < 0 || si >= static_cast<int64_t>(student.size()) || ti < 0 || ti >= static_cast<int64_t>(teacher.size()))
      throw Error("distillation: layer_map pair [" + std::to_string(si) + ", " + std::to_string(ti) +
                  "] is outside the student's " + std::to_string(student.size()) + " or the teacher's " +
                  std::to_string(teacher.size()) + " hidden states");
    const auto& s = student[si];
    const auto& t = teacher[ti];
    if (s.sizes() != t.sizes()) throw Error("distillation: hidden states of different sizes cannot be compared");
    auto mse = ((s - t.detach()).pow(2) * real).sum() / (tokens * s.size(-1));
    total = total.defined() ? total + mse : mse;
  }
  return total / static_cast<double>(layer_map.size());
}

}  // namespace fastbert
