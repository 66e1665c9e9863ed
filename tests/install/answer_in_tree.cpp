// The install test's reference: writes the tiny test BERT's .fbm (fp32) and
// prints the in-tree engine's answer to QUESTION about CONTEXT in the format
// of docs/runtime-api.md's example, which must print the same line.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "fastbert/export/fbm_export.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_runner.h"
#include "tiny_bert.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 5) {
    std::fprintf(stderr, "usage: answer_in_tree WORK_DIR OUT.fbm QUESTION CONTEXT\n");
    return 2;
  }
  try {
    const fs::path checkpoint = fs::path(argv[1]) / "checkpoint";
    fastbert::testing::TinyBert(fastbert::testing::TinyBertSpec{}).write_checkpoint(checkpoint);
    fastbert::export_fbm(checkpoint, argv[2]);
    fastbert::EngineOptions options;
    options.num_threads = 2;  // as the example
    fastbert::Engine engine(argv[2], options);
    fastbert::SquadWindowOptions windows;
    windows.max_seq = std::min<int64_t>(windows.max_seq, engine.config().max_position);
    windows.doc_stride = std::min<int64_t>(windows.doc_stride, windows.max_seq / 2);
    windows.max_query = std::min<int64_t>(windows.max_query, windows.max_seq / 4);
    const fastbert::SquadPrediction p = fastbert::answer(engine, argv[3], argv[4], windows);
    std::printf("answer: '%s' bytes [%d, %d) score %.4f\n", p.text.c_str(), p.begin, p.end, p.score);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "answer_in_tree: %s\n", e.what());
    return 1;
  }
}
