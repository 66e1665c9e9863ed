// Stands in for `fastbert-train predict` in the CLI test: answers every window
// with logits that point at the gold span stored in the features file, so the
// test can check the eval plumbing (tokenize -> exec -> logits -> answers ->
// score) end to end without the training side. Records its arguments.
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "fastbert/formats/squad_features.h"

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  if (argc < 2 || std::string(argv[1]) != "predict") {
    std::cerr << "oracle_predict_tool: expected 'predict'\n";
    return 2;
  }
  for (int i = 2; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  if (const char* log = std::getenv("ORACLE_ARGS_LOG")) {
    std::ofstream out(log);
    for (int i = 1; i < argc; ++i) out << argv[i] << "\n";
  }
  try {
    const auto f = fastbert::read_squad_features(args.at("--features"));
    fastbert::SquadLogits l;
    l.max_seq = f.max_seq;
    l.start_logits.assign(static_cast<size_t>(f.num_windows() * f.max_seq), 0.f);
    l.end_logits = l.start_logits;
    for (int64_t w = 0; w < f.num_windows(); ++w) {
      if (f.start_positions[w] == 0) continue;
      l.start_logits[w * f.max_seq + f.start_positions[w]] = 10.f;
      l.end_logits[w * f.max_seq + f.end_positions[w]] = 10.f;
    }
    fastbert::write_squad_logits(args.at("--out"), l);
  } catch (const std::exception& e) {
    std::cerr << "oracle_predict_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
