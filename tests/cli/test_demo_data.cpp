#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "demo_data.h"
#include "fastbert/common/atomic_file.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
fs::path make_demo(uint64_t seed, const std::string& tag = "") {
  fs::path d = fs::temp_directory_path() /
               ("fastbert-demo-" + std::to_string(::getpid()) + "-" + std::to_string(seed) + tag);
  fs::remove_all(d);
  fastbert::cli::write_demo(d, seed, {6, 2});
  return d;
}
}  // namespace

TEST(DemoData, EveryAnswerStartPointsAtItsAnswerText) {
  auto d = make_demo(7);
  int checked = 0;
  for (const char* split : {"train.json", "dev.json"}) {
    json data = json::parse(fastbert::read_file(d / split));
    for (const auto& article : data["data"])
      for (const auto& p : article["paragraphs"]) {
        const std::string context = p["context"];
        for (const auto& qa : p["qas"])
          for (const auto& a : qa["answers"]) {
            const std::string text = a["text"];
            const size_t start = a["answer_start"];
            ASSERT_EQ(context.substr(start, text.size()), text) << qa["id"];
            ++checked;
          }
      }
  }
  EXPECT_GT(checked, 20);
  fs::remove_all(d);
}

TEST(DemoData, TrainAndDevShareNoArticleAndTokenizeWithoutUnknownPieces) {
  auto d = make_demo(8);
  const auto tokenizer = fastbert::load_tokenizer(d / "model");
  std::set<std::string> titles;
  int texts = 0;
  for (const char* split : {"train.json", "dev.json"}) {
    json data = json::parse(fastbert::read_file(d / split));
    for (const auto& article : data["data"]) {
      EXPECT_TRUE(titles.insert(article["title"].get<std::string>()).second);
      for (const auto& p : article["paragraphs"]) {
        std::vector<std::string> all = {p["context"].get<std::string>()};
        for (const auto& qa : p["qas"]) all.push_back(qa["question"]);
        for (const auto& text : all) {
          const auto encoding = tokenizer->encode(text);
          for (int32_t id : encoding.ids) ASSERT_NE(id, tokenizer->unk_id()) << text;
          ++texts;
        }
      }
    }
  }
  EXPECT_GT(texts, 50);
  json config = json::parse(fastbert::read_file(d / "model" / "config.json"));
  EXPECT_EQ(config["vocab_size"].get<int64_t>(), tokenizer->vocab_size());
  fs::remove_all(d);
}

TEST(DemoData, SameSeedGivesSameDataDifferentSeedDifferentData) {
  auto a = make_demo(11, "a"), b = make_demo(11, "b");
  EXPECT_EQ(fastbert::read_file(a / "train.json"), fastbert::read_file(b / "train.json"));
  fs::remove_all(b);
  auto c = make_demo(12);
  EXPECT_NE(fastbert::read_file(a / "train.json"), fastbert::read_file(c / "train.json"));
  fs::remove_all(a);
  fs::remove_all(c);
}
