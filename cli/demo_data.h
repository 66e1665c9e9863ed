#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace fastbert::cli {

// The embedded default the main job runs on: a synthetic reading-comprehension
// set in SQuAD v1.1 JSON (facts about invented places and people, so nothing
// can be answered without reading the context) and a tiny untrained BERT
// (config.json + vocab.txt, no weights) whose vocabulary covers every word.
//   DIR/train.json, DIR/dev.json      disjoint subjects ("articles")
//   DIR/model/{config.json,vocab.txt,tokenizer_config.json}
struct DemoSizes {
  int train_articles = 800;
  int dev_articles = 20;
};
// The files of the demo: path relative to DIR -> contents.
std::map<std::string, std::string> demo_files(uint64_t seed, const DemoSizes& sizes = {});
void write_demo(const std::filesystem::path& dir, uint64_t seed, const DemoSizes& sizes = {});

}  // namespace fastbert::cli
