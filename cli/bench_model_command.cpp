// `fastbert bench model`: throughput and latency of the runtime engine on one
// or more .fbm files over batch sizes and sequence lengths, the best
// throughput within a p90 latency budget, the time share per op kind
// (--profile), and LibTorch fp32 on the same checkpoint measured in the same
// run (--compare-checkpoint, through `fastbert-train bench-forward`: LibTorch
// never enters this process). Every engine is measured once per round, the
// rounds one after the other, and reported by its median round: on a shared,
// noisy machine the engines then see the same noise, and their ratios hold.
#include <stdio.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "commands.h"
#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/common/memory.h"
#include "fastbert/common/output_paths.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/peak.h"
#include "fastbert/runtime/engine.h"
#include "option_checks.h"
#include "training_tool.h"

namespace fastbert::cli {

namespace {

struct BenchModelArgs {
  std::vector<std::string> models;  // PATH or LABEL=PATH
  int rounds = 3;
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
  std::vector<double> latencies_ms;  // every timed forward pass (fastbert)
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

// `reset_profile`: drop what planning the shape added to the profile (the
// first round; later rounds add to it).
Measurement measure_engine(Engine& engine, int64_t batch, int64_t seq, double min_seconds, bool reset_profile) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> id(1, static_cast<int32_t>(engine.config().vocab_size - 1));
  std::vector<int32_t> ids(static_cast<size_t>(batch * seq)), types(ids.size(), 0), mask(ids.size(), 1);
  for (auto& v : ids) v = id(rng);
  std::vector<float> start(ids.size()), end(ids.size());
  auto once = [&] { engine.forward(ids.data(), types.data(), mask.data(), batch, seq, start.data(), end.data()); };
  once();  // plans the shape bucket (buffers, primitives)
  if (reset_profile) engine.reset_profile();
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
  m.latencies_ms = std::move(ms);
  return m;
}

// The rounds of one engine as one result: the median round's throughput and
// latency percentiles over every pass of every round (LibTorch reports only
// percentiles: those of its median round).
Measurement median_round(std::vector<Measurement> rounds) {
  std::sort(rounds.begin(), rounds.end(),
            [](const Measurement& a, const Measurement& b) { return a.seq_per_s < b.seq_per_s; });
  Measurement m = rounds[(rounds.size() - 1) / 2];
  std::vector<double> all;
  for (const auto& r : rounds) all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
  if (!all.empty()) {
    m.p50_ms = percentile(all, 0.5);
    m.p90_ms = percentile(all, 0.9);
    m.p99_ms = percentile(all, 0.99);
  }
  m.latencies_ms.clear();
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

struct BenchedModel {
  std::string label, path;
  std::unique_ptr<Engine> engine;
};

nlohmann::ordered_json profile_shares(const EngineProfile& p) {
  double total = 0;
  for (const auto& [k, v] : p.seconds) total += v;
  nlohmann::ordered_json shares = nlohmann::ordered_json::object(), linear_shares = nlohmann::ordered_json::object();
  std::printf("  profile:");
  for (const auto& [k, v] : p.seconds) {
    std::printf(" %s %.1f%%", k.c_str(), 100.0 * v / total);
    shares[k] = v / total;
  }
  std::printf("\n  linears:");
  for (const auto& [k, v] : p.linear_seconds) {
    std::printf(" %s %.1f%%", k.c_str(), 100.0 * v / total);
    linear_shares[k] = v / total;
  }
  std::printf("\n");
  return {{"share", shares}, {"linear_share", linear_shares}};
}

// Bytes one forward pass of `batch` x `seq` needs at most: this command's
// inputs and logits, and the engine's buffers for the whole batch as one
// bucket (runtime/src/engine/engine.cpp: seven fp32 [hidden] buffers of
// activations, an fp32 and two u8 [intermediate] ones, the logits) plus one
// [heads x seq x seq] fp32 attention score block per thread. An upper bound:
// split batches use smaller per-thread buckets.
double forward_bytes(const fbm::ModelConfig& c, int64_t batch, int64_t seq) {
  const double tokens = static_cast<double>(batch) * static_cast<double>(seq);
  const double h = static_cast<double>(c.hidden_size), i = static_cast<double>(c.intermediate_size);
  const double per_token = 5 * 4 + 4 * (6 * h + i + 2) + std::max(h, i) + i;
  const double scores = static_cast<double>(c.num_heads) * static_cast<double>(seq) * static_cast<double>(seq) * 4;
  return tokens * per_token + scores * num_threads();
}

void run_bench_model(const BenchModelArgs& a) {
  std::vector<NamedPath> inputs = {{"--compare-checkpoint", a.compare_checkpoint}};
  for (const std::string& spec : a.models) inputs.push_back({"--model", spec.substr(spec.find('=') + 1)});
  refuse_outputs_over_inputs(inputs, {{"--json", a.json_out}});
  if (a.threads > 0) set_num_threads(a.threads);
  EngineOptions options;
  options.profile = a.profile;
  std::vector<BenchedModel> models;
  for (const std::string& spec : a.models) {
    BenchedModel m;
    const size_t eq = spec.find('=');
    m.path = eq == std::string::npos ? spec : spec.substr(eq + 1);
    m.label = eq == std::string::npos ? std::filesystem::path(m.path).stem().string() : spec.substr(0, eq);
    for (const auto& other : models)
      if (other.label == m.label)
        throw Error("two models are labelled '" + m.label + "' (" + other.path + ", " + m.path +
                    "): give them labels, --model LABEL=PATH");
    m.engine = std::make_unique<Engine>(m.path, options);
    std::printf("model %s (%s): %lld layers, hidden %lld, attention %s, %d threads\n", m.label.c_str(),
                m.path.c_str(), static_cast<long long>(m.engine->config().num_layers),
                static_cast<long long>(m.engine->config().hidden_size),
                attention_path_name(m.engine->attention_path()), num_threads());
    models.push_back(std::move(m));
  }
  // Every size against every model before the first measurement.
  for (const auto& m : models)
    for (int64_t seq : a.seqs) {
      if (seq > m.engine->config().max_position)
        throw Error("--seq " + std::to_string(seq) + " exceeds the " + std::to_string(m.engine->config().max_position) +
                    " positions of " + m.path);
      for (int64_t batch : a.batches)
        check_memory_fits("bench model --batch " + std::to_string(batch) + " --seq " + std::to_string(seq) + " on " +
                              m.path,
                          forward_bytes(m.engine->config(), batch, seq));
    }
  // One model keeps the plain engine name "fastbert".
  auto engine_name = [&](const BenchedModel& m) { return models.size() == 1 ? std::string("fastbert") : "fastbert_" + m.label; };
  std::printf("%d rounds, engines interleaved; median round\n", a.rounds);
  std::printf("%-14s %5s %5s %12s %10s %10s %10s\n", "engine", "seq", "batch", "seq/s", "p50 ms", "p90 ms", "p99 ms");
  std::vector<Measurement> results;
  nlohmann::ordered_json profiles = nlohmann::ordered_json::array();
  for (int64_t seq : a.seqs) {
    for (int64_t batch : a.batches) {
      std::vector<std::vector<Measurement>> rounds(models.size() + 1);
      for (auto& m : models) m.engine->reset_profile();
      for (int r = 0; r < a.rounds; ++r) {
        for (size_t i = 0; i < models.size(); ++i) {
          rounds[i].push_back(measure_engine(*models[i].engine, batch, seq, a.min_seconds, /*reset_profile=*/r == 0));
          rounds[i].back().engine = engine_name(models[i]);
        }
        if (!a.compare_checkpoint.empty()) rounds.back().push_back(measure_libtorch(a, batch, seq));
      }
      for (size_t i = 0; i < models.size(); ++i) {
        results.push_back(median_round(rounds[i]));
        print_row(results.back());
        if (a.profile) {
          nlohmann::ordered_json entry = {{"engine", results.back().engine}, {"seq", seq}, {"batch", batch}};
          entry.update(profile_shares(models[i].engine->profile()));
          profiles.push_back(entry);
        }
      }
      if (!rounds.back().empty()) {
        results.push_back(median_round(rounds.back()));
        print_row(results.back());
      }
    }
  }
  if (a.latency_ms > 0) {
    const Measurement* best = nullptr;
    for (const auto& m : results)
      if (m.engine.rfind("fastbert", 0) == 0 && m.p90_ms <= a.latency_ms && (!best || m.seq_per_s > best->seq_per_s)) best = &m;
    if (best)
      std::printf("best throughput with p90 <= %.1f ms: %s %.2f seq/s (seq %lld, batch %lld, p90 %.2f ms)\n",
                  a.latency_ms, best->engine.c_str(), best->seq_per_s, static_cast<long long>(best->seq), static_cast<long long>(best->batch),
                  best->p90_ms);
    else
      std::printf("no measured configuration keeps p90 under %.1f ms\n", a.latency_ms);
  }
  if (!a.json_out.empty()) {
    nlohmann::ordered_json j;
    j["model"] = models.size() == 1 ? nlohmann::ordered_json(models[0].path) : nlohmann::ordered_json();
    for (const auto& m : models) j["models"][m.label] = m.path;
    j["cpu"] = kernels::cpu_model_name();
    j["threads"] = num_threads();
    j["rounds"] = a.rounds;
    // The machine's own yardstick, measured in this run on one core: int8
    // MACs/s with independent vpdpbusd (0 without AVX512-VNNI), and the int8
    // peak of this CPU whatever it has (the same VNNI loop, or AVX2's exact
    // vpmaddwd one: kernels::measure_int8_peak).
    const kernels::Int8Peak peak = kernels::measure_int8_peak(1);
    j["vnni_peak_gops_1_thread"] = peak.isa == kernels::Isa::avx512_vnni ? peak.gops : 0.0;
    j["int8_peak_gops_1_thread"] = peak.gops;
    j["int8_peak"] = peak.loop;
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
  cmd->add_option("--model", a->models, ".fbm file(s), each PATH or LABEL=PATH (comma list or repeated)")
      ->required()
      ->delimiter(',');
  cmd->add_option("--rounds", a->rounds, "measure every engine this many times, interleaved; report the median")
      ->capture_default_str()
      ->check(integer_in(1, 1000));
  cmd->add_option("--batch", a->batches, "batch sizes (comma list)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(integer_in(1, kMaxBatch));
  cmd->add_option("--seq", a->seqs, "sequence lengths (comma list)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(integer_in(1, kMaxSequence));
  cmd->add_option("--latency-ms", a->latency_ms, "report the best throughput whose p90 latency stays under this")
      ->check(number_in(0, 1e9));
  cmd->add_flag("--profile", a->profile, "time share of each op kind");
  cmd->add_option("--compare-checkpoint", a->compare_checkpoint,
                  "also time LibTorch fp32 on this checkpoint (fastbert-train bench-forward), same run");
  cmd->add_option("--min-seconds", a->min_seconds, "measure each configuration at least this long")
      ->capture_default_str()
      ->check(number_in(0, 3600));
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->capture_default_str()->check(thread_count());
  cmd->add_option("--json", a->json_out, "also write the results as JSON");
  cmd->callback([a] { run_bench_model(*a); });
}

}  // namespace fastbert::cli
