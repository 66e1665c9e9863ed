#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fastbert/common/error.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/prune/block_pruner.h"
#include "training_fixtures.h"

namespace fastbert {
namespace {

using testing::TestDir;
using testing::tiny_config;

// Every 4x1 block of `w` (4 consecutive rows, one column) is all zero or has no zero.
void expect_whole_blocks(const torch::Tensor& w) {
  auto z = w.eq(0).reshape({w.size(0) / 4, 4, w.size(1)}).sum(1);
  EXPECT_TRUE(torch::logical_or(z.eq(0), z.eq(4)).all().item<bool>());
}

double zero_fraction(const torch::Tensor& w) { return w.eq(0).to(torch::kDouble).mean().item<double>(); }

TEST(Prune, BlockMaskHasExactlyTheRequestedSparsityAndWholeBlocks) {
  for (auto scope : {PruneScope::Global, PruneScope::PerLayer}) {
    torch::manual_seed(1);
    BertForQuestionAnswering model(tiny_config());
    PruneSettings s;
    s.scope = scope;
    BlockPruner pruner(model, s, 10);
    pruner.prune_to(0.75);
    int64_t blocks = 0, pruned = 0;
    for (const auto& l : pruner.report()) {
      blocks += l.blocks;
      pruned += l.pruned_blocks;
      auto w = find_linear(model, l.name)->weight.detach();
      expect_whole_blocks(w);
      if (scope == PruneScope::PerLayer) {
        EXPECT_EQ(l.pruned_blocks * 4, l.blocks * 3) << l.name;
      }
      EXPECT_DOUBLE_EQ(zero_fraction(w), l.sparsity()) << l.name;
    }
    EXPECT_EQ(pruned * 4, blocks * 3);
    EXPECT_EQ(pruner.layers().size(), 12u);  // 6 per encoder layer, no qa_outputs
  }
}

TEST(Prune, GlobalScopeRespectsThePerLayerCap) {
  torch::manual_seed(2);
  BertForQuestionAnswering model(tiny_config());
  {
    torch::NoGradGuard g;
    // Make one layer tiny so that global magnitude would prune all of it.
    find_linear(model, "bert.encoder.layer.0.attention.self.query")->weight.mul_(1e-4);
  }
  PruneSettings s;
  s.max_layer_sparsity = 0.9;
  BlockPruner pruner(model, s, 10);
  pruner.prune_to(0.5);
  EXPECT_NEAR(pruner.overall_sparsity(), 0.5, 1e-9);
  for (const auto& l : pruner.report()) EXPECT_LE(l.sparsity(), 0.9 + 1e-9) << l.name;
  EXPECT_NEAR(pruner.report().front().sparsity(), 0.9, 1.0 / 256);
}

TEST(Prune, MagnitudePrunesTheSmallestBlocks) {
  torch::manual_seed(3);
  BertForQuestionAnswering model(tiny_config());
  auto q = find_linear(model, "bert.encoder.layer.0.attention.self.query");
  {
    torch::NoGradGuard g;
    q->weight.fill_(1);
    q->weight.slice(0, 0, 4).fill_(0.01);  // first row-block: the weakest in every column
  }
  PruneSettings s;
  s.scope = PruneScope::PerLayer;
  s.layers = {"*.layer.0.attention.self.query"};
  BlockPruner pruner(model, s, 10);
  pruner.prune_to(1.0 / 8);  // 32 of the 256 blocks = the 32 columns of row-block 0
  EXPECT_TRUE(q->weight.slice(0, 0, 4).eq(0).all().item<bool>());
  EXPECT_TRUE(q->weight.slice(0, 4).ne(0).all().item<bool>());
}

TEST(Prune, EachScheduleHitsItsValuesAtItsSteps) {
  for (auto kind : {ScheduleKind::Cubic, ScheduleKind::Exponential, ScheduleKind::Linear}) {
    SparsitySchedule sch{kind, 10, 30, 0.2, 0.8};
    EXPECT_EQ(sch.at(0), 0.0);
    EXPECT_EQ(sch.at(9), 0.0);
    EXPECT_NEAR(sch.at(10), 0.2, 1e-12);
    EXPECT_NEAR(sch.at(30), 0.8, 1e-12);
    EXPECT_NEAR(sch.at(100), 0.8, 1e-12);
    for (int64_t t = 10; t < 30; ++t) EXPECT_LT(sch.at(t), sch.at(t + 1));
  }
  EXPECT_NEAR((SparsitySchedule{ScheduleKind::Linear, 10, 30, 0.2, 0.8}.at(20)), 0.5, 1e-12);
  EXPECT_NEAR((SparsitySchedule{ScheduleKind::Cubic, 10, 30, 0.2, 0.8}.at(20)), 0.8 - 0.6 / 8, 1e-12);
  // Exponential: the kept fraction is the geometric mean half way: sqrt(0.8 * 0.2) = 0.4.
  EXPECT_NEAR((SparsitySchedule{ScheduleKind::Exponential, 10, 30, 0.2, 0.8}.at(20)), 0.6, 1e-12);
}

TEST(Prune, MasksSurviveOptimizerStepsAndResumeFromTheMaskFile) {
  torch::manual_seed(4);
  TestDir tmp;
  BertForQuestionAnswering model(tiny_config());
  PruneSettings s;
  s.criterion = PruneCriterion::SnipMomentum;
  s.start_step = 0;
  s.end_step = 4;
  s.update_every_steps = 1;
  s.target_sparsity = 0.8;
  BlockPruner pruner(model, s, 8);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-2));
  auto ids = torch::randint(3, 64, {4, 16}, torch::kLong);
  auto types = torch::zeros_like(ids), mask = torch::ones_like(ids);
  for (int64_t step = 1; step <= 8; ++step) {
    opt.zero_grad();
    auto out = model(ids, types, mask);
    qa_loss(out, mask, torch::full({4}, 3, torch::kLong), torch::full({4}, 5, torch::kLong)).backward();
    pruner.observe_gradients();
    opt.step();
    pruner.after_optimizer_step(step);
    EXPECT_NEAR(pruner.overall_sparsity(), pruner.schedule().at(step), 1.0 / 3000) << step;
  }
  pruner.save(tmp / "masks.safetensors");
  save_bert_qa(model, tmp / "ckpt", "");
  for (const auto& l : pruner.report()) {
    auto w = find_linear(model, l.name)->weight.detach();
    expect_whole_blocks(w);
    EXPECT_NEAR(zero_fraction(w), l.sparsity(), 1e-12) << l.name;
  }
  // A resumed pruner keeps the masks through further optimizer steps.
  auto resumed_model = load_bert_qa(tmp / "ckpt");
  BlockPruner resumed(resumed_model, s, 8);
  resumed.load(tmp / "masks.safetensors");
  for (const auto& l : pruner.report())
    EXPECT_TRUE(torch::equal(resumed.block_mask(l.name), pruner.block_mask(l.name))) << l.name;
  torch::optim::AdamW opt2(resumed_model->parameters(), torch::optim::AdamWOptions(1e-1));
  for (int64_t step = 9; step <= 10; ++step) {
    opt2.zero_grad();
    auto out = resumed_model(ids, types, mask);
    qa_loss(out, mask, torch::full({4}, 3, torch::kLong), torch::full({4}, 5, torch::kLong)).backward();
    opt2.step();
    resumed.after_optimizer_step(step);
  }
  for (const auto& l : pruner.report()) {
    auto w = find_linear(resumed_model, l.name)->weight.detach();
    auto expanded = expand_block_mask(pruner.block_mask(l.name), {4, 1});
    EXPECT_TRUE(w.masked_select(expanded.logical_not()).eq(0).all().item<bool>()) << l.name;
  }
}

// apply_masks() keeps each mask expanded to its weight between calls: a mask
// taken over after an apply must be the one the next apply zeroes with.
TEST(Prune, MaskTakenOverAfterAnApplyIsTheOneAppliedNext) {
  torch::manual_seed(5);
  BertForQuestionAnswering model(tiny_config());
  PruneSettings s;
  BlockPruner pruner(model, s, 8);
  pruner.apply_masks();  // all blocks kept
  const std::string layer = pruner.layers().front();
  auto mask = torch::ones_like(pruner.block_mask(layer));
  mask.index_put_({0}, false);  // the first 4 rows of every column
  pruner.set_block_mask(layer, mask);
  pruner.apply_masks();
  const auto w = find_linear(model, layer)->weight.detach();
  EXPECT_TRUE(w.slice(0, 0, 4).eq(0).all().item<bool>());
  EXPECT_TRUE(w.slice(0, 4).ne(0).all().item<bool>());
}

TEST(Prune, LayerPatternMatchingNothingIsRefusedWithItsLocation) {
  BertForQuestionAnswering model(tiny_config());
  PruneSettings s;
  s.layers = {"bert.embeddings.*"};
  s.layer_locations = {"r.yaml:7:9"};
  try {
    BlockPruner pruner(model, s, 10);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("r.yaml:7:9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bert.embeddings.*"), std::string::npos) << e.what();
  }
}

TEST(Prune, DamagedMaskFileIsAClearError) {
  TestDir tmp;
  BertForQuestionAnswering model(tiny_config());
  PruneSettings s;
  BlockPruner pruner(model, s, 10);
  pruner.save(tmp / "m.safetensors");
  PruneSettings other = s;
  other.block_rows = 8;
  BlockPruner wrong_block(model, other, 10);
  EXPECT_THROW(wrong_block.load(tmp / "m.safetensors"), Error);
  write_file_atomic(tmp / "bad.safetensors", "garbage");
  EXPECT_THROW(pruner.load(tmp / "bad.safetensors"), Error);
}

}  // namespace
}  // namespace fastbert
