#include "fastbert/train/recipe.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <deque>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

// Reads one YAML mapping, remembering which keys were consumed so that
// anything left over (a typo, a key of a later version) is refused.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string key_path, const fs::path& source)
      : node_(node), path_(std::move(key_path)), source_(source) {
    if (!node_.IsMap()) fail(node_, path_.empty() ? "the recipe" : path_, "expected a mapping");
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& what) const {
    const YAML::Mark m = at.Mark();
    std::string where = source_.string();
    if (m.line >= 0) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    throw Error(where + ": key '" + key + "': " + what);
  }

  std::string child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  const YAML::Node* get(const std::string& key) {
    seen_.insert(key);
    for (auto it = node_.begin(); it != node_.end(); ++it)
      if (it->first.Scalar() == key) {
        nodes_.push_back(it->second);
        return &nodes_.back();
      }
    return nullptr;
  }

  const YAML::Node& require(const std::string& key) {
    const YAML::Node* n = get(key);
    if (!n) fail(node_, child_path(key), "missing (required)");
    return *n;
  }

  std::string scalar(const YAML::Node& n, const std::string& key, const char* expected) const {
    if (!n.IsScalar())
      fail(n, child_path(key),
           std::string("expected ") + expected + ", got a " +
               (n.IsMap()        ? "mapping"
                : n.IsSequence() ? "list"
                                 : "null"));
    return n.Scalar();
  }

  int64_t integer(const std::string& key, int64_t fallback, int64_t min, const char* expected) {
    const YAML::Node* n = get(key);
    if (!n) return fallback;
    const std::string s = scalar(*n, key, expected);
    static const std::regex kInt("[+-]?[0-9]+");
    if (!std::regex_match(s, kInt))
      fail(*n, child_path(key), std::string("expected ") + expected + ", got \"" + s + "\"");
    int64_t v = 0;
    try {
      v = std::stoll(s);
    } catch (const std::exception&) {
      fail(*n, child_path(key), std::string("expected ") + expected + ", got \"" + s + "\" (out of range)");
    }
    if (v < min) fail(*n, child_path(key), std::string("expected ") + expected + ", got \"" + s + "\"");
    return v;
  }

  double number(const std::string& key, double fallback, double min, double max, bool max_inclusive,
                const char* expected) {
    const YAML::Node* n = get(key);
    if (!n) return fallback;
    const std::string s = scalar(*n, key, expected);
    double v = 0;
    std::size_t used = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || !std::isfinite(v) || v < min || (max_inclusive ? v > max : v >= max))
      fail(*n, child_path(key), std::string("expected ") + expected + ", got \"" + s + "\"");
    return v;
  }

  std::string string(const std::string& key, const char* expected) {
    const YAML::Node& n = require(key);
    const std::string s = scalar(n, key, expected);
    if (s.empty()) fail(n, child_path(key), std::string("expected ") + expected + ", got an empty string");
    return s;
  }

  // Call after reading every known key.
  void refuse_unknown_keys() const {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (!seen_.count(k)) {
        std::string known;
        for (const auto& s : seen_) known += (known.empty() ? "" : ", ") + s;
        fail(it->first, child_path(k), "unknown key (known here: " + known + ")");
      }
    }
  }

  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node node_;
  std::string path_;
  fs::path source_;
  std::set<std::string> seen_;
  std::deque<YAML::Node> nodes_;  // stable addresses for get()
};

fs::path relative_to(const fs::path& base_file, const std::string& p) {
  fs::path path(p);
  if (path.is_absolute()) return path;
  return (base_file.parent_path() / path).lexically_normal();
}

StageSettings parse_stage(const YAML::Node& node, std::size_t index, const fs::path& source) {
  const std::string prefix = "stages[" + std::to_string(index) + "]";
  MapReader r(node, prefix, source);
  StageSettings s;
  if (const YAML::Node* n = r.get("name")) {
    s.name = r.scalar(*n, "name", "a name");
    static const std::regex kName("[A-Za-z0-9_.-]+");
    if (!std::regex_match(s.name, kName))
      r.fail(*n, prefix + ".name", "expected a name of letters, digits, '_', '-', '.', got \"" + s.name + "\"");
  } else {
    s.name = "stage" + std::to_string(index);
  }
  s.epochs = r.integer("epochs", s.epochs, 1, "a positive integer");
  s.batch_size = r.integer("batch_size", s.batch_size, 1, "a positive integer");
  s.grad_accum = r.integer("grad_accum", s.grad_accum, 1, "a positive integer");
  s.learning_rate = r.number("learning_rate", s.learning_rate, 0, 1, true, "a learning rate in [0, 1]");
  if (const YAML::Node* n = r.get("warmup")) {
    const std::string v = r.scalar(*n, "warmup", "a fraction in [0, 1) or a whole number of steps");
    static const std::regex kInt("[0-9]+");
    if (std::regex_match(v, kInt)) {
      s.warmup_steps = std::stoll(v);
    } else {
      std::size_t used = 0;
      double f = -1;
      try {
        f = std::stod(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != v.size() || !(f >= 0 && f < 1))
        r.fail(*n, prefix + ".warmup", "expected a fraction in [0, 1) or a whole number of steps, got \"" + v + "\"");
      s.warmup_fraction = f;
    }
  }
  s.weight_decay = r.number("weight_decay", s.weight_decay, 0, 1, true, "a weight decay in [0, 1]");
  s.seed = static_cast<uint64_t>(r.integer("seed", static_cast<int64_t>(s.seed), 0, "a non-negative integer"));
  s.max_steps = r.integer("max_steps", s.max_steps, 0, "a non-negative integer (0 = no cap)");
  s.max_grad_norm = r.number("max_grad_norm", s.max_grad_norm, 0, 1e9, true, "a non-negative number (0 = no clipping)");
  s.save_every_steps = r.integer("save_every_steps", s.save_every_steps, 1, "a positive integer");
  s.log_every_steps = r.integer("log_every_steps", s.log_every_steps, 1, "a positive integer");
  if (const YAML::Node* n = r.get("group_by_length")) {
    const std::string v = r.scalar(*n, "group_by_length", "true or false");
    if (v != "true" && v != "false")
      r.fail(*n, prefix + ".group_by_length", "expected true or false, got \"" + v + "\"");
    s.group_by_length = v == "true";
  }
  r.refuse_unknown_keys();
  return s;
}

}  // namespace

Recipe Recipe::parse(const std::string& yaml_text, const fs::path& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw Error(source.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) throw Error(source.string() + ": a recipe must be a YAML mapping (model, output, data, stages)");
  MapReader r(root, "", source);
  Recipe recipe;
  recipe.source = source;
  recipe.model = relative_to(source, r.string("model", "a checkpoint directory"));
  recipe.output = relative_to(source, r.string("output", "an output directory"));
  recipe.threads = static_cast<int>(r.integer("threads", 0, 0, "a non-negative integer (0 = all cores)"));

  {
    const YAML::Node& data = r.require("data");
    MapReader d(data, "data", source);
    const std::string train = d.string("train", "a .json or .h5 path");
    recipe.data.train = relative_to(source, train);
    const std::string ext = recipe.data.train.extension().string();
    if (ext != ".json" && ext != ".h5" && ext != ".hdf5")
      d.fail(d.require("train"), "data.train", "expected a SQuAD .json or a features .h5 file, got \"" + train + "\"");
    recipe.data.max_seq = d.integer("max_seq", recipe.data.max_seq, 8, "an integer >= 8");
    recipe.data.doc_stride = d.integer("doc_stride", recipe.data.doc_stride, 1, "a positive integer");
    recipe.data.max_query = d.integer("max_query", recipe.data.max_query, 1, "a positive integer");
    if (recipe.data.max_query + 3 >= recipe.data.max_seq)
      d.fail(d.require("max_query"), "data.max_query",
             "must leave room for the context: max_query + 3 < max_seq (" + std::to_string(recipe.data.max_seq) + ")");
    d.refuse_unknown_keys();
  }

  const YAML::Node& stages = r.require("stages");
  if (!stages.IsSequence() || stages.size() == 0) r.fail(stages, "stages", "expected a non-empty list of stages");
  std::set<std::string> names;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    recipe.stages.push_back(parse_stage(stages[i], i, source));
    if (!names.insert(recipe.stages.back().name).second)
      r.fail(stages[i], "stages[" + std::to_string(i) + "].name",
             "duplicate stage name \"" + recipe.stages.back().name + "\"");
  }
  r.refuse_unknown_keys();
  return recipe;
}

Recipe Recipe::load(const fs::path& path) {
  if (!fs::exists(path)) throw Error(path.string() + ": no such recipe file");
  return parse(read_file(path), path);
}

std::string Recipe::resume_key(std::size_t stage) const {
  nlohmann::json j;
  j["model"] = fs::weakly_canonical(model).string();
  j["data"] = {{"train", fs::weakly_canonical(data.train).string()},
               {"max_seq", data.max_seq},
               {"doc_stride", data.doc_stride},
               {"max_query", data.max_query}};
  j["stages"] = nlohmann::json::array();
  for (std::size_t i = 0; i <= stage && i < stages.size(); ++i) {
    const auto& s = stages[i];
    j["stages"].push_back({{"name", s.name},
                           {"epochs", s.epochs},
                           {"batch_size", s.batch_size},
                           {"grad_accum", s.grad_accum},
                           {"learning_rate", s.learning_rate},
                           {"warmup_fraction", s.warmup_fraction},
                           {"warmup_steps", s.warmup_steps},
                           {"weight_decay", s.weight_decay},
                           {"seed", s.seed},
                           {"max_steps", s.max_steps},
                           {"max_grad_norm", s.max_grad_norm},
                           {"group_by_length", s.group_by_length}});
  }
  return j.dump();
}

}  // namespace fastbert
