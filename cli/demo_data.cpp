#include "demo_data.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fastbert/common/atomic_file.h"

namespace fastbert::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Relation {
  const char* statement;  // {S} subject, {O} object
  const char* question;
  enum Kind { kPlace, kPerson, kYear, kColor } object_kind;
};

const Relation kRelations[] = {
    {"The capital of {S} is {O} .", "What is the capital of {S} ?", Relation::kPlace},
    {"{S} was founded by {O} .", "Who founded {S} ?", Relation::kPerson},
    {"The river {O} flows through {S} .", "Which river flows through {S} ?", Relation::kPlace},
    {"{S} was built in {O} .", "When was {S} built ?", Relation::kYear},
    {"The flag of {S} is {O} .", "What color is the flag of {S} ?", Relation::kColor},
    {"The largest market of {S} sells goods from {O} .", "Where do the goods of the largest market of {S} come from ?",
     Relation::kPlace},
    {"{O} was the first mayor of {S} .", "Who was the first mayor of {S} ?", Relation::kPerson},
};

const char* kColors[] = {"red", "blue", "green", "yellow", "black", "white", "purple", "orange"};
// Names are made of these syllables, and the vocabulary holds the syllables
// (as WordPiece pieces), not the names: a name first seen in dev.json is then
// made of trained embeddings, so reading it is learnable.
const char* kOnsets[] = {"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "qu", "th"};
const char* kNuclei[] = {"a", "e", "i", "o", "u", "ai", "ou"};

class NameMaker {
 public:
  explicit NameMaker(std::mt19937_64& rng) : rng_(rng) {}
  std::string make(int syllables) {
    for (;;) {
      std::string s;
      for (int i = 0; i < syllables; ++i) {
        s += kOnsets[rng_() % std::size(kOnsets)];
        s += kNuclei[rng_() % std::size(kNuclei)];
      }
      if (used_.insert(s).second) {
        s[0] = static_cast<char>(s[0] - 'a' + 'A');
        return s;
      }
    }
  }

 private:
  std::mt19937_64& rng_;
  std::set<std::string> used_;
};

std::string substitute(std::string text, const std::string& s, const std::string& o) {
  if (auto p = text.find("{S}"); p != std::string::npos) text.replace(p, 3, s);
  if (auto p = text.find("{O}"); p != std::string::npos) text.replace(p, 3, o);
  return text;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Fact {
  std::string subject;
  const Relation* relation;
  std::string object;
};

// One article: a few subjects, several paragraphs, each a shuffled list of facts
// (each relation at most once) with one question per fact.
json make_article(int index, const std::string& prefix, NameMaker& names, std::mt19937_64& rng) {
  std::vector<std::string> subjects;
  for (int i = 0; i < 3; ++i) subjects.push_back(names.make(2 + static_cast<int>(rng() % 2)));
  auto object_for = [&](Relation::Kind kind) -> std::string {
    switch (kind) {
      case Relation::kPlace: return names.make(2 + static_cast<int>(rng() % 2));
      case Relation::kPerson: return names.make(2) + " " + names.make(3);
      case Relation::kYear: return std::to_string(1200 + rng() % 800);
      case Relation::kColor: return kColors[rng() % std::size(kColors)];
    }
    return {};
  };
  json paragraphs = json::array();
  int question_number = 0;
  for (int p = 0; p < 3; ++p) {
    // Each relation at most once per paragraph, about a random subject of the
    // article: the question's relation words then pick one sentence, which a
    // 2-layer model learns in minutes (with every subject's relations in one
    // paragraph, telling subjects apart kept the teacher at dev F1 24).
    std::vector<Fact> facts;
    for (const auto& relation : kRelations)
      if (rng() % 2 == 0)
        facts.push_back({subjects[rng() % subjects.size()], &relation, object_for(relation.object_kind)});
    if (facts.empty()) facts.push_back({subjects[0], &kRelations[0], object_for(kRelations[0].object_kind)});
    std::shuffle(facts.begin(), facts.end(), rng);

    std::string context;
    json qas = json::array();
    for (const auto& fact : facts) {
      std::string sentence = substitute(fact.relation->statement, fact.subject, fact.object);
      if (!context.empty()) context += ' ';
      const size_t sentence_start = context.size();
      context += sentence;
      // Where {O} landed, not a search for the object text: a colour such as
      // "red" can also occur inside a subject name.
      const std::string statement = fact.relation->statement;
      const size_t object_start =
          sentence_start + substitute(statement.substr(0, statement.find("{O}")), fact.subject, "").size();
      qas.push_back({{"id", prefix + std::to_string(index) + "_" + std::to_string(question_number++)},
                     {"question", substitute(fact.relation->question, fact.subject, "")},
                     {"answers", json::array({{{"text", fact.object}, {"answer_start", object_start}}})}});
    }
    paragraphs.push_back({{"context", context}, {"qas", qas}});
  }
  return {{"title", prefix + "article_" + std::to_string(index)}, {"paragraphs", paragraphs}};
}

// Special tokens, the words of the templates and colours, then syllables and
// digits as word-initial and "##" continuation pieces.
std::vector<std::string> demo_vocabulary() {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::set<std::string> words(std::begin(kColors), std::end(kColors));
  for (const auto& relation : kRelations)
    for (const std::string text : {relation.statement, relation.question}) {
      std::istringstream in(text);
      for (std::string w; in >> w;)
        if (w != "{S}" && w != "{O}") words.insert(lower(w));
    }
  tokens.insert(tokens.end(), words.begin(), words.end());
  std::vector<std::string> pieces;
  for (const char* onset : kOnsets)
    for (const char* nucleus : kNuclei) pieces.push_back(std::string(onset) + nucleus);
  for (char d = '0'; d <= '9'; ++d) pieces.emplace_back(1, d);
  for (const auto& p : pieces)
    if (!words.count(p)) tokens.push_back(p);
  for (const auto& p : pieces) tokens.push_back("##" + p);
  return tokens;
}

}  // namespace

std::map<std::string, std::string> demo_files(uint64_t seed, const DemoSizes& sizes) {
  std::mt19937_64 rng(seed);
  NameMaker names(rng);
  auto make_split = [&](const std::string& prefix, int articles) {
    json data = json::array();
    for (int a = 0; a < articles; ++a) data.push_back(make_article(a, prefix, names, rng));
    return json{{"version", "1.1"}, {"data", data}};
  };
  std::map<std::string, std::string> files;
  files["train.json"] = make_split("train", sizes.train_articles).dump();
  files["dev.json"] = make_split("dev", sizes.dev_articles).dump();

  const std::vector<std::string> tokens = demo_vocabulary();
  std::string vocab;
  for (const auto& t : tokens) vocab += t + "\n";
  const size_t vocab_size = tokens.size();
  files["model/vocab.txt"] = vocab;
  const json config = {{"architectures", {"BertForQuestionAnswering"}},
                       {"model_type", "bert"},
                       {"vocab_size", vocab_size},
                       {"hidden_size", 64},
                       {"num_hidden_layers", 2},
                       {"num_attention_heads", 4},
                       {"intermediate_size", 256},
                       {"hidden_act", "gelu"},
                       // No dropout: fresh names in every article leave nothing to
                       // memorise, and without it the teacher reaches dev F1 97.9
                       // in 24 epochs (82.0 in 12 epochs at half the rate with it).
                       {"hidden_dropout_prob", 0.0},
                       {"attention_probs_dropout_prob", 0.0},
                       {"max_position_embeddings", 256},
                       {"type_vocab_size", 2},
                       {"initializer_range", 0.02},
                       {"layer_norm_eps", 1e-12},
                       {"pad_token_id", 0}};
  files["model/config.json"] = config.dump(2);
  files["model/tokenizer_config.json"] =
      json{{"do_lower_case", true}, {"tokenizer_class", "BertTokenizer"}}.dump(2);
  return files;
}

void write_demo(const fs::path& dir, uint64_t seed, const DemoSizes& sizes) {
  fs::create_directories(dir / "model");
  for (const auto& [name, bytes] : demo_files(seed, sizes)) write_file_atomic(dir / name, bytes);
}

}  // namespace fastbert::cli
