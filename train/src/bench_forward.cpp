#include "fastbert/train/bench_forward.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/model/checkpoint.h"

namespace fastbert {

ForwardTiming bench_forward(const std::filesystem::path& checkpoint, int64_t batch, int64_t seq, double min_seconds) {
  if (batch <= 0 || seq <= 0) throw Error("bench-forward: batch and seq must be positive");
  BertForQuestionAnswering model = load_bert_qa(checkpoint);
  if (seq > model->config.max_position_embeddings)
    throw Error("bench-forward: seq " + std::to_string(seq) + " exceeds the model's " +
                std::to_string(model->config.max_position_embeddings) + " positions");
  model->eval();
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const auto ids = torch::randint(1, model->config.vocab_size, {batch, seq}, torch::kLong);
  const auto types = torch::zeros({batch, seq}, torch::kLong);
  const auto mask = torch::ones({batch, seq}, torch::kLong);
  model(ids, types, mask);  // warm-up: allocator and oneDNN/MKL state
  std::vector<double> ms;
  const auto begin = std::chrono::steady_clock::now();
  while (ms.size() < 3 ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() < min_seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    model(ids, types, mask);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  ForwardTiming t;
  t.iterations = static_cast<int64_t>(ms.size());
  double total = 0;
  for (double v : ms) total += v;
  t.seq_per_s = static_cast<double>(batch) * 1000.0 * static_cast<double>(ms.size()) / total;
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * (ms.size() - 1) + 0.5))]; };
  t.p50_ms = pct(0.5);
  t.p90_ms = pct(0.9);
  t.p99_ms = pct(0.99);
  return t;
}

}  // namespace fastbert
