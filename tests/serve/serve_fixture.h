#pragma once
// What the serve tests share: a tiny random BERT exported to .fbm once per
// test program, the windowing they serve it with, and questions and contexts
// (some long enough for several windows) made of its vocabulary.
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "fastbert/export/fbm_export.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_runner.h"
#include "fastbert/serve/qa_batcher.h"
#include "tiny_bert.h"

namespace fastbert::testing {

// 128-token windows: the engine runs each window alone then (one sequence
// per unit at 128 tokens or more), as Engine::answer does.
inline SquadWindowOptions serve_test_windows() {
  SquadWindowOptions w;
  w.max_seq = 128;
  w.doc_stride = 48;
  w.max_query = 16;
  return w;
}

inline const std::filesystem::path& serve_test_model() {
  static const std::filesystem::path path = [] {
    const auto dir = std::filesystem::temp_directory_path() / ("fastbert-serve-model-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    TinyBertSpec spec;
    spec.max_position = 160;
    spec.seed = 11;
    TinyBert(spec).write_checkpoint(dir / "ckpt");
    ExportOptions o;
    o.precision = ExportPrecision::fp32;
    export_fbm(dir / "ckpt", dir / "tiny.fbm", o);
    std::filesystem::remove_all(dir / "ckpt");
    return dir / "tiny.fbm";
  }();
  return path;
}

inline void remove_serve_test_model() { std::filesystem::remove_all(serve_test_model().parent_path()); }

// `count` (question, context) pairs; every fifth context is long enough for
// several windows of serve_test_windows().
inline std::vector<serve::QaItem> serve_test_items(int count, uint64_t seed) {
  static const char* words[] = {"the",  "broncos", "won",   "in",   "santa", "clara", "denver",
                                "game", "bowl",    "super", "a",    "long",  "story", "about",
                                "many", "things",  "50",    "team", "city",  "of",    "and",
                                "is",   "was",     "it",    "on",   "at",    "by",    "for"};
  static const char* questions[] = {"who won the game?", "where is the team?", "what was the story about?",
                                    "who is in santa clara?", "what city won 50?"};
  std::mt19937_64 rng(seed);
  std::vector<serve::QaItem> items;
  for (int i = 0; i < count; ++i) {
    const int n = i % 5 == 4 ? 260 : 12 + static_cast<int>(rng() % 60);
    std::string context;
    for (int w = 0; w < n; ++w) {
      context += (w ? " " : "") + std::string(words[rng() % std::size(words)]);
      if (w % 9 == 8) context += ".";
    }
    items.push_back({questions[rng() % std::size(questions)], context});
  }
  return items;
}

}  // namespace fastbert::testing
