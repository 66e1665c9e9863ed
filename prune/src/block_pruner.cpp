#include "fastbert/prune/block_pruner.h"

#include <fnmatch.h>

#include <cmath>
#include <cstring>

#include "fastbert/common/error.h"
#include "fastbert/formats/safetensors.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

SafetensorsTensor to_safetensors(const std::string& name, const torch::Tensor& t) {
  SafetensorsTensor st;
  st.name = name;
  torch::Tensor c;
  if (t.scalar_type() == torch::kBool) {
    c = t.to(torch::kCPU, torch::kUInt8).contiguous();
    st.dtype = SafetensorsDType::U8;
    st.data.assign(static_cast<const char*>(c.data_ptr()), c.numel());
  } else {
    c = t.to(torch::kCPU, torch::kFloat32).contiguous();
    st.dtype = SafetensorsDType::F32;
    st.data.assign(static_cast<const char*>(c.data_ptr()), c.numel() * sizeof(float));
  }
  st.shape = c.sizes().vec();
  return st;
}

torch::Tensor from_safetensors(const SafetensorsTensor& st) {
  const auto type = st.dtype == SafetensorsDType::U8 ? torch::kUInt8 : torch::kFloat32;
  auto t = torch::empty(st.shape, type);
  std::memcpy(t.data_ptr(), st.data.data(), st.data.size());
  return t;
}

BlockShape block_of(const SafetensorsFile& f, const fs::path& file) {
  try {
    return {std::stoll(f.metadata.at("block_rows")), std::stoll(f.metadata.at("block_cols"))};
  } catch (const std::exception&) {
    throw Error(file.string() + ": metadata block_rows/block_cols missing or not integers");
  }
}

torch::Tensor checked_mask(const SafetensorsFile& f, const std::string& name, const torch::Tensor& weight,
                           BlockShape block, const fs::path& file) {
  const SafetensorsTensor* st = f.find(name);
  if (!st) throw Error(file.string() + ": no tensor '" + name + "'");
  if (st->dtype != SafetensorsDType::U8 && st->dtype != SafetensorsDType::BOOL)
    throw Error(file.string() + ": '" + name + "' must be U8 or BOOL");
  const std::vector<int64_t> want = {weight.size(0) / block.rows, weight.size(1) / block.cols};
  if (st->shape != want)
    throw Error(file.string() + ": '" + name + "' has the wrong shape for a " + std::to_string(block.rows) + "x" +
                std::to_string(block.cols) + " block mask of a [" + std::to_string(weight.size(0)) + ", " +
                std::to_string(weight.size(1)) + "] weight");
  auto t = torch::empty(st->shape, torch::kUInt8);
  std::memcpy(t.data_ptr(), st->data.data(), st->data.size());
  return t.ne(0).to(weight.device());
}

}  // namespace

std::vector<std::string> encoder_linear_names(BertForQuestionAnswering& model) {
  std::vector<std::string> names;
  for (const auto& m : model->named_modules("", /*include_self=*/false))
    if (m.value()->as<torch::nn::Linear>() && m.key().rfind("bert.encoder.", 0) == 0) names.push_back(m.key());
  return names;
}

torch::nn::Linear find_linear(BertForQuestionAnswering& model, const std::string& name) {
  for (const auto& m : model->named_modules("", false))
    if (m.key() == name)
      if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(m.value())) return torch::nn::Linear(linear);
  throw Error("the model has no linear layer '" + name + "'");
}

std::vector<std::string> select_layers(const std::vector<std::string>& candidates,
                                       const std::vector<std::string>& patterns,
                                       const std::vector<std::string>& locations) {
  if (patterns.empty()) return candidates;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    bool any = false;
    for (const auto& c : candidates)
      if (fnmatch(patterns[i].c_str(), c.c_str(), 0) == 0) any = true;
    if (!any) {
      const std::string where = i < locations.size() && !locations[i].empty() ? locations[i] + ": " : "";
      throw Error(where + "layer pattern \"" + patterns[i] +
                  "\" matches no encoder linear layer (they are named like " +
                  (candidates.empty() ? std::string("?") : candidates.front()) + ")");
    }
  }
  for (const auto& c : candidates)
    for (const auto& p : patterns)
      if (fnmatch(p.c_str(), c.c_str(), 0) == 0) {
        out.push_back(c);
        break;
      }
  return out;
}

BlockPruner::BlockPruner(BertForQuestionAnswering model, PruneSettings settings, int64_t stage_steps)
    : model_(std::move(model)), settings_(std::move(settings)) {
  block_ = {settings_.block_rows, settings_.block_cols};
  schedule_ = {settings_.schedule, settings_.start_step,
               settings_.end_step > 0 ? settings_.end_step : stage_steps, settings_.initial_sparsity,
               settings_.target_sparsity};
  names_ = select_layers(encoder_linear_names(model_), settings_.layers, settings_.layer_locations);
  for (const auto& n : names_) {
    auto linear = find_linear(model_, n);
    const auto& w = linear->weight;
    block_scores(w.detach(), block_, n);  // shape check
    linears_.push_back(linear);
    masks_.push_back(torch::ones({w.size(0) / block_.rows, w.size(1) / block_.cols}, w.options().dtype(torch::kBool)));
    weight_masks_.emplace_back();
    scores_.push_back(settings_.criterion == PruneCriterion::SnipMomentum ? torch::zeros_like(w.detach())
                                                                          : torch::Tensor());
  }
}

void BlockPruner::observe_gradients() {
  if (settings_.criterion != PruneCriterion::SnipMomentum) return;
  torch::NoGradGuard no_grad;
  const double m = settings_.momentum;
  for (std::size_t i = 0; i < linears_.size(); ++i) {
    const auto& w = linears_[i]->weight;
    if (!w.grad().defined()) continue;
    scores_[i].mul_(m).add_((w.detach() * w.grad()).abs(), 1.0 - m);
  }
}

void BlockPruner::after_optimizer_step(int64_t steps_done) {
  const bool in_window = steps_done >= schedule_.start_step && steps_done <= schedule_.end_step;
  const bool due = (steps_done - schedule_.start_step) % settings_.update_every_steps == 0 ||
                   steps_done == schedule_.end_step;
  if (in_window && due) prune_to(schedule_.at(steps_done));
  apply_masks();
}

void BlockPruner::prune_to(double sparsity) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> scores;
  for (std::size_t i = 0; i < linears_.size(); ++i) {
    auto s = settings_.criterion == PruneCriterion::SnipMomentum ? scores_[i] : linears_[i]->weight.detach().abs();
    auto b = block_scores(s.to(torch::kFloat64), block_, names_[i]);
    // Once pruned, a block stays pruned: masks only grow as sparsity rises.
    scores.push_back(b.masked_fill(masks_[i].logical_not(), -1.0));
  }
  if (settings_.scope == PruneScope::PerLayer) {
    for (std::size_t i = 0; i < scores.size(); ++i)
      set_mask(i, prune_lowest(scores[i], std::llround(sparsity * static_cast<double>(scores[i].numel()))));
  } else {
    // Global: each layer offers its lowest blocks up to the cap; the lowest of
    // all offers are pruned, which respects every cap and is exact.
    std::vector<torch::Tensor> values, layer_ids, indices;
    int64_t total = 0;
    for (std::size_t i = 0; i < scores.size(); ++i) {
      auto flat = scores[i].reshape({-1});
      total += flat.numel();
      const int64_t offer = static_cast<int64_t>(std::floor(settings_.max_layer_sparsity * flat.numel() + 1e-9));
      auto sorted = torch::sort(flat, true, 0, false);
      values.push_back(std::get<0>(sorted).slice(0, 0, offer));
      indices.push_back(std::get<1>(sorted).slice(0, 0, offer));
      layer_ids.push_back(torch::full({offer}, static_cast<int64_t>(i), flat.options().dtype(torch::kLong)));
    }
    const int64_t k = std::llround(sparsity * static_cast<double>(total));
    auto all = torch::cat(values);
    auto order = std::get<1>(torch::sort(all, true, 0, false)).slice(0, 0, std::min<int64_t>(k, all.numel()));
    auto chosen_layers = torch::cat(layer_ids).index_select(0, order);
    auto chosen_index = torch::cat(indices).index_select(0, order);
    for (std::size_t i = 0; i < scores.size(); ++i) {
      auto keep = torch::ones({scores[i].numel()}, scores[i].options().dtype(torch::kBool));
      keep.index_fill_(0, chosen_index.masked_select(chosen_layers.eq(static_cast<int64_t>(i))), false);
      set_mask(i, keep.reshape(scores[i].sizes()));
    }
  }
  apply_masks();
}

void BlockPruner::set_mask(std::size_t i, torch::Tensor block_mask) {
  masks_[i] = std::move(block_mask);
  weight_masks_[i] = torch::Tensor();
}

void BlockPruner::apply_masks() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < linears_.size(); ++i) {
    auto& weight = linears_[i]->weight;
    if (!weight_masks_[i].defined() || weight_masks_[i].scalar_type() != weight.scalar_type())
      weight_masks_[i] = expand_block_mask(masks_[i], block_).to(weight.dtype());
    weight.mul_(weight_masks_[i]);
  }
}

std::vector<LayerSparsity> BlockPruner::report() const {
  std::vector<LayerSparsity> out;
  for (std::size_t i = 0; i < names_.size(); ++i)
    out.push_back({names_[i], masks_[i].numel(), masks_[i].numel() - masks_[i].sum().item<int64_t>()});
  return out;
}

double BlockPruner::overall_sparsity() const {
  int64_t blocks = 0, pruned = 0;
  for (const auto& l : report()) blocks += l.blocks, pruned += l.pruned_blocks;
  return blocks ? static_cast<double>(pruned) / static_cast<double>(blocks) : 0.0;
}

const torch::Tensor& BlockPruner::block_mask(const std::string& layer) const {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == layer) return masks_[i];
  throw Error("no pruned layer '" + layer + "'");
}

void BlockPruner::set_block_mask(const std::string& layer, const torch::Tensor& mask) {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == layer) {
      if (mask.sizes() != masks_[i].sizes()) throw Error(layer + ": a block mask of another shape cannot be taken over");
      set_mask(i, mask.to(masks_[i].device(), torch::kBool).clone());
      return;
    }
  throw Error("no pruned layer '" + layer + "'");
}

void BlockPruner::save(const fs::path& file) const {
  SafetensorsFile f;
  f.metadata["format"] = "fastbert-block-masks";
  f.metadata["block_rows"] = std::to_string(block_.rows);
  f.metadata["block_cols"] = std::to_string(block_.cols);
  f.metadata["criterion"] = to_string(settings_.criterion);
  for (std::size_t i = 0; i < names_.size(); ++i) {
    f.add(to_safetensors(names_[i] + ".weight.mask", masks_[i]));
    if (scores_[i].defined()) f.add(to_safetensors(names_[i] + ".weight.score", scores_[i]));
  }
  write_safetensors(file, f);
}

void BlockPruner::load(const fs::path& file) { load(read_safetensors(file), file); }

void BlockPruner::load(const SafetensorsFile& f, const fs::path& file) {
  const BlockShape b = block_of(f, file);
  if (b.rows != block_.rows || b.cols != block_.cols)
    throw Error(file.string() + ": masks of " + std::to_string(b.rows) + "x" + std::to_string(b.cols) +
                " blocks, but the recipe asks for " + std::to_string(block_.rows) + "x" + std::to_string(block_.cols));
  for (std::size_t i = 0; i < names_.size(); ++i) {
    set_mask(i, checked_mask(f, names_[i] + ".weight.mask", linears_[i]->weight, block_, file));
    if (scores_[i].defined()) {
      const SafetensorsTensor* st = f.find(names_[i] + ".weight.score");
      if (st && st->dtype == SafetensorsDType::F32 && st->shape == scores_[i].sizes().vec())
        scores_[i] = from_safetensors(*st).to(scores_[i].device());
    }
  }
  apply_masks();
}

std::unique_ptr<BlockPruner> pruner_of_mask_file(BertForQuestionAnswering model, const fs::path& file) {
  const SafetensorsFile f = read_safetensors(file);
  PruneSettings settings;
  settings.enabled = true;
  const BlockShape b = block_of(f, file);
  settings.block_rows = b.rows;
  settings.block_cols = b.cols;
  // Snip-momentum scores travel with the masks, so files written again keep them.
  const auto criterion = f.metadata.find("criterion");
  if (criterion != f.metadata.end() && criterion->second == to_string(PruneCriterion::SnipMomentum))
    settings.criterion = PruneCriterion::SnipMomentum;
  for (const auto& t : f.tensors) {
    if (!ends_with(t.name, ".weight.mask")) continue;
    settings.layers.push_back(t.name.substr(0, t.name.size() - std::strlen(".weight.mask")));
    settings.layer_locations.push_back(file.string() + ": '" + t.name + "'");
  }
  if (settings.layers.empty()) throw Error(file.string() + ": no '<layer>.weight.mask' tensor");
  auto pruner = std::make_unique<BlockPruner>(std::move(model), std::move(settings), 1);
  pruner->load(f, file);
  return pruner;
}

}  // namespace fastbert
