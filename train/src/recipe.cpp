#include "fastbert/train/recipe.h"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <deque>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <tuple>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/bounded_number.h"
#include "fastbert/common/error.h"
#include "fastbert/common/limits.h"
#include "fastbert/common/threads.h"
#include "fastbert/model/bert_config.h"

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
    // yaml-cpp keeps both of two equal keys and lookups find the first, so
    // the second would be silently ignored.
    std::map<std::string, YAML::Mark> first;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const auto [at, fresh] = first.emplace(it->first.Scalar(), it->first.Mark());
      if (!fresh)
        fail(it->first, child_path(it->first.Scalar()),
             "duplicate key (first given at line " + std::to_string(at->second.line + 1) + ", column " +
                 std::to_string(at->second.column + 1) + ")");
    }
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

  // An integer in [min, max], with the message every bounded number gets
  // (fastbert/common/bounded_number.h).
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
    const YAML::Node* n = get(key);
    if (!n) return fallback;
    return integer_at(*n, key, min, max);
  }

  int64_t integer_at(const YAML::Node& n, const std::string& key, int64_t min, int64_t max) const {
    const std::string s = scalar(n, key, "an integer");
    if (std::string problem = integer_problem(s, min, max); !problem.empty()) fail(n, child_path(key), problem);
    return parse_bounded_integer(key, s, min, max);
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

std::string location(const fs::path& source, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return source.string() + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

template <typename E>
E choice(MapReader& r, const std::string& key, E fallback, const std::vector<std::pair<std::string, E>>& options) {
  const YAML::Node* n = r.get(key);
  if (!n) return fallback;
  std::string names;
  for (const auto& o : options) names += (names.empty() ? "" : "|") + o.first;
  const std::string v = r.scalar(*n, key, names.c_str());
  for (const auto& o : options)
    if (o.first == v) return o.second;
  r.fail(*n, r.child_path(key), "expected one of " + names + ", got \"" + v + "\"");
}

bool boolean(MapReader& r, const std::string& key, bool fallback) {
  const YAML::Node* n = r.get(key);
  if (!n) return fallback;
  const std::string v = r.scalar(*n, key, "true or false");
  if (v == "true") return true;
  if (v == "false") return false;
  r.fail(*n, r.child_path(key), "expected true or false, got \"" + v + "\"");
}

// [a, b] of two integers in [min, max]; `key` is the full key path.
std::pair<int64_t, int64_t> integer_pair(MapReader& r, const YAML::Node& n, const std::string& key, int64_t min,
                                         int64_t max, const char* expected) {
  if (!n.IsSequence() || n.size() != 2) r.fail(n, key, std::string("expected ") + expected);
  int64_t v[2];
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string item = key + "[" + std::to_string(i) + "]";
    if (!n[i].IsScalar()) r.fail(n[i], item, std::string("expected ") + expected);
    if (std::string problem = integer_problem(n[i].Scalar(), min, max); !problem.empty()) r.fail(n[i], item, problem);
    v[i] = parse_bounded_integer(item, n[i].Scalar(), min, max);
  }
  return {v[0], v[1]};
}

// The recipe's model's config.json, so that sizes can be checked against it
// before training; none when it is not readable yet (loading the model
// refuses it then, with its own message).
std::optional<BertConfig> config_of(const fs::path& model_dir) {
  try {
    return BertConfig::load(model_dir / "config.json");
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Names of the encoder linear layers of the recipe's model, from its
// config.json, so that a layer pattern can be checked before training; empty
// when the model has no readable config yet (the pruner checks again).
std::vector<std::string> encoder_linears_of(const fs::path& model_dir) {
  std::vector<std::string> names;
  try {
    const BertConfig c = BertConfig::load(model_dir / "config.json");
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      for (const char* l : {"attention.self.query", "attention.self.key", "attention.self.value",
                            "attention.output.dense", "intermediate.dense", "output.dense"})
        names.push_back("bert.encoder.layer." + std::to_string(i) + "." + l);
  } catch (const std::exception&) {
    names.clear();
  }
  return names;
}

PruneSettings parse_prune(const YAML::Node& node, const std::string& prefix, const fs::path& source,
                          const fs::path& model_dir) {
  MapReader r(node, prefix, source);
  PruneSettings p;
  p.enabled = true;
  if (const YAML::Node* n = r.get("block")) {
    std::tie(p.block_rows, p.block_cols) =
        integer_pair(r, *n, r.child_path("block"), 1, 256, "[rows, cols] of two positive integers, e.g. [4, 1]");
  }
  p.criterion = choice<PruneCriterion>(r, "criterion", p.criterion,
                                       {{"magnitude", PruneCriterion::Magnitude},
                                        {"snip_momentum", PruneCriterion::SnipMomentum}});
  p.schedule = choice<ScheduleKind>(
      r, "schedule", p.schedule,
      {{"cubic", ScheduleKind::Cubic}, {"exponential", ScheduleKind::Exponential}, {"linear", ScheduleKind::Linear}});
  p.start_step = r.integer("start_step", p.start_step, 0, kMaxSteps);
  p.end_step = r.integer("end_step", p.end_step, 0, kMaxSteps);  // 0 = the stage's last step
  if (p.end_step > 0 && p.end_step <= p.start_step)
    r.fail(*r.get("end_step"), r.child_path("end_step"),
           "end_step " + std::to_string(p.end_step) + " is not after start_step " + std::to_string(p.start_step));
  p.initial_sparsity = r.number("initial_sparsity", p.initial_sparsity, 0, 1, false, "a sparsity in [0, 1)");
  p.target_sparsity = r.number("target_sparsity", p.target_sparsity, 0, 1, false, "a sparsity in [0, 1)");
  if (p.initial_sparsity > p.target_sparsity)
    r.fail(*r.get("initial_sparsity"), r.child_path("initial_sparsity"), "must not exceed target_sparsity");
  p.scope = choice<PruneScope>(r, "scope", p.scope, {{"global", PruneScope::Global}, {"per_layer", PruneScope::PerLayer}});
  p.max_layer_sparsity = r.number("max_layer_sparsity", p.max_layer_sparsity, 0, 1, true, "a sparsity in (0, 1]");
  if (p.max_layer_sparsity < p.target_sparsity)
    r.fail(*r.get("max_layer_sparsity"), r.child_path("max_layer_sparsity"),
           "is below target_sparsity, which could then not be reached");
  if (const YAML::Node* n = r.get("layers")) {
    if (!n->IsSequence() || n->size() == 0)
      r.fail(*n, r.child_path("layers"), "expected a non-empty list of layer name patterns");
    const std::vector<std::string> known = encoder_linears_of(model_dir);
    for (std::size_t i = 0; i < n->size(); ++i) {
      const YAML::Node& item = (*n)[i];
      const std::string key = r.child_path("layers") + "[" + std::to_string(i) + "]";
      if (!item.IsScalar() || item.Scalar().empty()) r.fail(item, key, "expected a layer name pattern");
      p.layers.push_back(item.Scalar());
      p.layer_locations.push_back(location(source, item) + ": key '" + key + "'");
      if (!known.empty()) {
        bool any = false;
        for (const auto& k : known) any = any || fnmatch(item.Scalar().c_str(), k.c_str(), 0) == 0;
        if (!any)
          r.fail(item, key, "layer pattern \"" + item.Scalar() + "\" matches no encoder linear layer of " +
                                model_dir.string() + " (they are named like " + known.front() + ")");
      }
    }
  }
  p.update_every_steps = r.integer("update_every_steps", p.update_every_steps, 1, kMaxSteps);
  p.momentum = r.number("momentum", p.momentum, 0, 1, false, "a momentum in [0, 1)");
  r.refuse_unknown_keys();
  return p;
}

DistillSettings parse_distill(const YAML::Node& node, const std::string& prefix, const fs::path& source,
                              const fs::path& model_dir) {
  MapReader r(node, prefix, source);
  DistillSettings d;
  d.enabled = true;
  const std::string teacher = r.string("teacher", "a teacher checkpoint directory");
  d.teacher = relative_to(source, teacher);
  if (!fs::exists(d.teacher / "config.json"))
    r.fail(r.require("teacher"), r.child_path("teacher"), "no checkpoint at " + d.teacher.string() + " (config.json missing)");
  d.temperature = r.number("temperature", d.temperature, 1e-3, 1e3, true, "a temperature > 0");
  d.alpha = r.number("alpha", d.alpha, 0, 1, true, "a weight in [0, 1]");
  if (const YAML::Node* n = r.get("hidden_mse")) {
    MapReader h(*n, r.child_path("hidden_mse"), source);
    const YAML::Node& map = h.require("layer_map");
    if (!map.IsSequence() || map.size() == 0)
      h.fail(map, h.child_path("layer_map"), "expected a non-empty list of [student, teacher] hidden-state indices");
    // Hidden states exist for the embeddings (0) and after each layer (1..L).
    BertConfig student_config, teacher_config;
    bool configs = false;
    try {
      student_config = BertConfig::load(model_dir / "config.json");
      teacher_config = BertConfig::load(d.teacher / "config.json");
      configs = true;
    } catch (const std::exception&) {
      configs = false;  // checked again when the models load
    }
    if (configs && student_config.hidden_size != teacher_config.hidden_size)
      h.fail(*n, r.child_path("hidden_mse"), "the student's hidden size " + std::to_string(student_config.hidden_size) +
                                                 " differs from the teacher's " +
                                                 std::to_string(teacher_config.hidden_size));
    for (std::size_t i = 0; i < map.size(); ++i) {
      const std::string key = h.child_path("layer_map") + "[" + std::to_string(i) + "]";
      d.layer_map.push_back(
          integer_pair(h, map[i], key, 0, 1024, "[student, teacher] of two hidden-state indices (0 = embeddings)"));
      if (configs && (d.layer_map.back().first > student_config.num_hidden_layers ||
                      d.layer_map.back().second > teacher_config.num_hidden_layers))
        h.fail(map[i], key, "the student has hidden states 0.." + std::to_string(student_config.num_hidden_layers) +
                                " and the teacher 0.." + std::to_string(teacher_config.num_hidden_layers));
    }
    d.hidden_weight = h.number("weight", 1.0, 0, 1e6, true, "a non-negative weight");
    h.refuse_unknown_keys();
  }
  d.precompute_logits = boolean(r, "precompute_logits", d.precompute_logits);
  r.refuse_unknown_keys();
  return d;
}

QuantizeSettings parse_quantize(const YAML::Node& node, const std::string& prefix, const fs::path& source) {
  MapReader r(node, prefix, source);
  QuantizeSettings q;
  q.enabled = true;
  q.mode = choice<QuantMode>(r, "mode", q.mode, {{"ptq", QuantMode::Ptq}, {"qat", QuantMode::Qat}});
  q.calibration = choice<CalibrationMethod>(
      r, "calibration", q.calibration,
      {{"minmax", CalibrationMethod::MinMax}, {"percentile", CalibrationMethod::Percentile}});
  q.percentile = r.number("percentile", q.percentile, 50, 100, true, "a percentile in [50, 100]");
  q.calibration_batches = r.integer("calibration_batches", q.calibration_batches, 1, int64_t{1} << 20);
  q.start_step = r.integer("start_step", q.start_step, 0, kMaxSteps);
  r.refuse_unknown_keys();
  return q;
}

nlohmann::json compression_json(const StageSettings& s) {
  nlohmann::json j = nlohmann::json::object();
  if (s.prune.enabled) {
    const auto& p = s.prune;
    j["prune"] = {{"block", {p.block_rows, p.block_cols}}, {"criterion", to_string(p.criterion)},
                  {"schedule", to_string(p.schedule)}, {"start_step", p.start_step}, {"end_step", p.end_step},
                  {"initial_sparsity", p.initial_sparsity}, {"target_sparsity", p.target_sparsity},
                  {"scope", to_string(p.scope)}, {"max_layer_sparsity", p.max_layer_sparsity},
                  {"layers", p.layers}, {"update_every_steps", p.update_every_steps}, {"momentum", p.momentum}};
  }
  if (s.distill.enabled) {
    const auto& d = s.distill;
    j["distill"] = {{"teacher", fs::weakly_canonical(d.teacher).string()}, {"temperature", d.temperature},
                    {"alpha", d.alpha}, {"layer_map", d.layer_map}, {"hidden_weight", d.hidden_weight}};
  }
  if (s.quantize.enabled) {
    const auto& q = s.quantize;
    j["quantize"] = {{"mode", q.mode == QuantMode::Ptq ? "ptq" : "qat"},
                     {"calibration", q.calibration == CalibrationMethod::MinMax ? "minmax" : "percentile"},
                     {"percentile", q.percentile}, {"calibration_batches", q.calibration_batches},
                     {"start_step", q.start_step}};
  }
  return j;
}

StageSettings parse_stage(const YAML::Node& node, std::size_t index, const fs::path& source,
                          const fs::path& model_dir) {
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
  s.epochs = r.integer("epochs", s.epochs, 1, kMaxEpochs);
  s.batch_size = r.integer("batch_size", s.batch_size, 1, kMaxBatch);
  s.grad_accum = r.integer("grad_accum", s.grad_accum, 1, kMaxBatch);
  s.learning_rate = r.number("learning_rate", s.learning_rate, 0, 1, true, "a learning rate in [0, 1]");
  if (const YAML::Node* n = r.get("warmup")) {
    const std::string v = r.scalar(*n, "warmup", "a fraction in [0, 1) or a whole number of steps");
    static const std::regex kInt("[0-9]+");
    if (std::regex_match(v, kInt)) {
      s.warmup_steps = r.integer_at(*n, "warmup", 0, kMaxSteps);
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
  s.seed = static_cast<uint64_t>(r.integer("seed", static_cast<int64_t>(s.seed), 0, INT64_MAX));
  s.max_steps = r.integer("max_steps", s.max_steps, 0, kMaxSteps);  // 0 = no cap
  s.max_grad_norm = r.number("max_grad_norm", s.max_grad_norm, 0, 1e9, true, "a non-negative number (0 = no clipping)");
  s.save_every_steps = r.integer("save_every_steps", s.save_every_steps, 1, kMaxSteps);
  s.log_every_steps = r.integer("log_every_steps", s.log_every_steps, 1, kMaxSteps);
  s.group_by_length = boolean(r, "group_by_length", s.group_by_length);
  s.snapshot = boolean(r, "snapshot", s.snapshot);
  if (const YAML::Node* n = r.get("precision")) {
    const std::string v = r.scalar(*n, "precision", "fp32 or bf16");
    if (v != "fp32" && v != "bf16") r.fail(*n, prefix + ".precision", "expected fp32 or bf16, got \"" + v + "\"");
    s.precision = v == "bf16" ? Precision::Bf16 : Precision::Fp32;
  }
  if (const YAML::Node* n = r.get("prune")) s.prune = parse_prune(*n, prefix + ".prune", source, model_dir);
  if (const YAML::Node* n = r.get("distill")) s.distill = parse_distill(*n, prefix + ".distill", source, model_dir);
  if (const YAML::Node* n = r.get("quantize")) s.quantize = parse_quantize(*n, prefix + ".quantize", source);
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
  recipe.threads = static_cast<int>(r.integer("threads", 0, 0, kMaxThreads));  // 0 = all cores
  recipe.device = choice<TrainDevice>(r, "device", recipe.device, {{"cpu", TrainDevice::Cpu}, {"cuda", TrainDevice::Cuda}});
  if (const YAML::Node* dist = r.get("distributed")) {
    MapReader d(*dist, "distributed", source);
    recipe.distributed.backend = choice<CommBackend>(d, "backend", recipe.distributed.backend,
                                                     {{"gloo", CommBackend::Gloo}, {"nccl", CommBackend::Nccl}});
    recipe.distributed.timeout_s = d.integer("timeout_s", recipe.distributed.timeout_s, 1, 86400);
    d.refuse_unknown_keys();
  }

  {
    const YAML::Node& data = r.require("data");
    MapReader d(data, "data", source);
    const std::string train = d.string("train", "a .json or .h5 path");
    recipe.data.train = relative_to(source, train);
    const std::string ext = recipe.data.train.extension().string();
    if (ext != ".json" && ext != ".h5" && ext != ".hdf5")
      d.fail(d.require("train"), "data.train", "expected a SQuAD .json or a features .h5 file, got \"" + train + "\"");
    recipe.data.max_seq = d.integer("max_seq", recipe.data.max_seq, 8, kMaxSequence);
    // Before anything is tokenized: windows longer than the model's position
    // table would be refused only after `prepare` wrote every one of them.
    if (const auto c = config_of(recipe.model); c && recipe.data.max_seq > c->max_position_embeddings)
      d.fail(d.require("max_seq"), "data.max_seq",
             std::to_string(recipe.data.max_seq) + " exceeds the " + std::to_string(c->max_position_embeddings) +
                 " positions (max_position_embeddings) of " + (recipe.model / "config.json").string());
    recipe.data.doc_stride = d.integer("doc_stride", recipe.data.doc_stride, 1, kMaxSequence);
    recipe.data.max_query = d.integer("max_query", recipe.data.max_query, 1, kMaxSequence);
    if (recipe.data.max_query + 3 >= recipe.data.max_seq)
      d.fail(d.require("max_query"), "data.max_query",
             "must leave room for the context: max_query + 3 < max_seq (" + std::to_string(recipe.data.max_seq) + ")");
    d.refuse_unknown_keys();
  }

  const YAML::Node& stages = r.require("stages");
  if (!stages.IsSequence() || stages.size() == 0) r.fail(stages, "stages", "expected a non-empty list of stages");
  std::set<std::string> names;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    recipe.stages.push_back(parse_stage(stages[i], i, source, recipe.model));
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
    // Only bf16 stages get the key, so fp32 checkpoints written before it existed still resume.
    if (s.precision == Precision::Bf16) j["stages"].back()["precision"] = "bf16";
    // Only stages that compress get the key, so checkpoints of plain
    // fine-tuning written before compression existed still resume.
    if (nlohmann::json c = compression_json(s); !c.empty()) j["stages"].back()["compression"] = c;
  }
  return j.dump();
}

}  // namespace fastbert
