// `fastbert bench model`: throughput and latency of the runtime engine on a
// .fbm file over batch sizes and sequence lengths, the best throughput within
// a p90 latency budget, the time share per op kind (--profile), and LibTorch
// fp32 on the same checkpoint measured in the same run (--compare-checkpoint,
// through `fastbert-train bench-forward`: LibTorch never enters this process).
#include <stdio.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "commands.h"
#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/runtime/engine.h"
#include "training_tool.h"

namespace fastbert::cli {

namespace {

struct BenchModelArgs {
  std::string model;
  std::vector<int64_t> batches = {1, 8};
  std::vector<int64_t> seqs = {128, 384};
  double latency_ms = 0;
  bool profile = false;
  std::string compare_checkpoint;
  double min_seconds = 1.0;
  int threads = 0;
  std::string json_out;
};

struct Measurement {
  std::string engine;
  int64_t batch = 0, seq = 0;
  double seq_per_s = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

Measurement measure_engine(Engine& engine, int64_t batch, int64_t seq, double min_seconds) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> id(1, static_cast<int32_t>(engine.config().vocab_size - 1));
  std::vector<int32_t> ids(static_cast<size_t>(batch * seq)), types(ids.size(), 0), mask(ids.size(), 1);
  for (auto& v : ids) v = id(rng);
  std::vector<float> start(ids.size()), end(ids.size());
  auto once = [&] { engine.forward(ids.data(), types.data(), mask.data(), batch, seq, start.data(), end.data()); };
  once();  // plans the shape bucket (buffers, primitives)
  engine.reset_profile();
  std::vector<double> ms;
  const auto begin = std::chrono::steady_clock::now();
  while (ms.size() < 3 || std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() < min_seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    once();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  double total = 0;
  for (double v : ms) total += v;
  Measurement m;
  m.engine = "fastbert";
  m.batch = batch;
  m.seq = seq;
  m.seq_per_s = static_cast<double>(batch) * 1000.0 * static_cast<double>(ms.size()) / total;
  m.p50_ms = percentile(ms, 0.5);
  m.p90_ms = percentile(ms, 0.9);
  m.p99_ms = percentile(ms, 0.99);
  return m;
}

// One `fastbert-train bench-forward` run; its JSON line is parsed from stdout.
Measurement measure_libtorch(const BenchModelArgs& a, int64_t batch, int64_t seq) {
  std::string cmd = "'" + training_tool_path() + "' bench-forward --checkpoint '" + a.compare_checkpoint +
                    "' --batch " + std::to_string(batch) + " --seq " + std::to_string(seq) + " --threads " +
                    std::to_string(num_threads()) + " --min-seconds " + std::to_string(a.min_seconds);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) throw Error("cannot run " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (status != 0) throw Error("fastbert-train bench-forward failed (" + cmd + "): " + out);
  const size_t brace = out.rfind('{');
  if (brace == std::string::npos) throw Error("fastbert-train bench-forward printed no result: " + out);
  const auto j = nlohmann::json::parse(out.substr(brace));
  Measurement m;
  m.engine = "libtorch_fp32";
  m.batch = batch;
  m.seq = seq;
  m.seq_per_s = j.at("seq_per_s").get<double>();
  m.p50_ms = j.at("p50_ms").get<double>();
  m.p90_ms = j.at("p90_ms").get<double>();
  m.p99_ms = j.at("p99_ms").get<double>();
  return m;
}

void print_row(const Measurement& m) {
  std::printf("%-14s %5lld %5lld %12.2f %10.2f %10.2f %10.2f\n", m.engine.c_str(), static_cast<long long>(m.seq),
              static_cast<long long>(m.batch), m.seq_per_s, m.p50_ms, m.p90_ms, m.p99_ms);
  std::fflush(stdout);
}

void run_bench_model(const BenchModelArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  EngineOptions options;
  options.profile = a.profile;
  Engine engine(a.model, options);
  std::printf("model %s: %lld layers, hidden %lld, attention %s, %d threads\n", a.model.c_str(),
              static_cast<long long>(engine.config().num_layers), static_cast<long long>(engine.config().hidden_size),
              attention_path_name(engine.attention_path()), num_threads());
  std::printf("%-14s %5s %5s %12s %10s %10s %10s\n", "engine", "seq", "batch", "seq/s", "p50 ms", "p90 ms", "p99 ms");
  std::vector<Measurement> results;
  nlohmann::ordered_json profiles = nlohmann::ordered_json::array();
  for (int64_t seq : a.seqs) {
    if (seq > engine.config().max_position)
      throw Error("--seq " + std::to_string(seq) + " exceeds the model's " +
                  std::to_string(engine.config().max_position) + " positions");
    for (int64_t batch : a.batches) {
      results.push_back(measure_engine(engine, batch, seq, a.min_seconds));
      print_row(results.back());
      if (a.profile) {
        const EngineProfile& p = engine.profile();
        double total = 0;
        for (const auto& [k, v] : p.seconds) total += v;
        std::printf("  profile:");
        nlohmann::ordered_json shares = nlohmann::ordered_json::object();
        for (const auto& [k, v] : p.seconds) {
          std::printf(" %s %.1f%%", k.c_str(), 100.0 * v / total);
          shares[k] = v / total;
        }
        std::printf("\n  linears:");
        nlohmann::ordered_json linear_shares = nlohmann::ordered_json::object();
        for (const auto& [k, v] : p.linear_seconds) {
          std::printf(" %s %.1f%%", k.c_str(), 100.0 * v / total);
          linear_shares[k] = v / total;
        }
        std::printf("\n");
        profiles.push_back({{"seq", seq}, {"batch", batch}, {"share", shares}, {"linear_share", linear_shares}});
      }
      if (!a.compare_checkpoint.empty()) {
        results.push_back(measure_libtorch(a, batch, seq));
        print_row(results.back());
      }
    }
  }
  if (a.latency_ms > 0) {
    const Measurement* best = nullptr;
    for (const auto& m : results)
      if (m.engine == "fastbert" && m.p90_ms <= a.latency_ms && (!best || m.seq_per_s > best->seq_per_s)) best = &m;
    if (best)
      std::printf("best throughput with p90 <= %.1f ms: %.2f seq/s (seq %lld, batch %lld, p90 %.2f ms)\n", a.latency_ms,
                  best->seq_per_s, static_cast<long long>(best->seq), static_cast<long long>(best->batch),
                  best->p90_ms);
    else
      std::printf("no measured configuration keeps p90 under %.1f ms\n", a.latency_ms);
  }
  if (!a.json_out.empty()) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["threads"] = num_threads();
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& m : results)
      rows.push_back({{"engine", m.engine}, {"seq", m.seq}, {"batch", m.batch}, {"value", m.seq_per_s},
                      {"p50_ms", m.p50_ms}, {"p90_ms", m.p90_ms}, {"p99_ms", m.p99_ms}});
    j["seq_per_s"] = rows;
    if (a.profile) j["profile"] = profiles;
    write_file_atomic(a.json_out, j.dump(2) + "\n");
  }
}

}  // namespace

void register_bench_model(CLI::App& bench) {
  auto a = std::make_shared<BenchModelArgs>();
  auto* cmd = bench.add_subcommand("model", "throughput and latency of the runtime engine on a .fbm model");
  cmd->add_option("--model", a->model, ".fbm file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--batch", a->batches, "batch sizes (comma list)")->delimiter(',')->capture_default_str();
  cmd->add_option("--seq", a->seqs, "sequence lengths (comma list)")->delimiter(',')->capture_default_str();
  cmd->add_option("--latency-ms", a->latency_ms, "report the best throughput whose p90 latency stays under this");
  cmd->add_flag("--profile", a->profile, "time share of each op kind");
  cmd->add_option("--compare-checkpoint", a->compare_checkpoint,
                  "also time LibTorch fp32 on this checkpoint (fastbert-train bench-forward), same run");
  cmd->add_option("--min-seconds", a->min_seconds, "measure each configuration at least this long")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("--json", a->json_out, "also write the results as JSON");
  cmd->callback([a] { run_bench_model(*a); });
}

}  // namespace fastbert::cli
