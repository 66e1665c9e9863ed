#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>

#include "fastbert/common/error.h"
#include "fastbert/runtime/squad/squad_postprocess.h"
#include "fastbert/runtime/squad/squad_windows.h"
#include "fastbert/runtime/tokenizers/wordpiece_tokenizer.h"

namespace fastbert {
namespace {

WordPieceTokenizer vocab() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "what", "?", ",", "##é"};
  for (int i = 0; i < 60; ++i) v.push_back("t" + std::to_string(i));
  return WordPieceTokenizer(v, WordPieceOptions{/*do_lower_case=*/false});
}

// Two examples over long contexts split into several windows each.
struct Fixture {
  SquadDataset data;
  SquadFeatures features;
  SquadLogits logits;
  std::vector<std::string_view> contexts;

  Fixture() {
    std::string c;
    for (int i = 0; i < 60; ++i) c += (i ? " " : "") + std::string("t") + std::to_string(i) + (i % 3 ? "" : "é,");
    data.contexts = {c, c};
    data.questions.push_back({"first", "what ?", 0, {{"t1", 5}}});
    data.questions.push_back({"second", "what ?", 1, {{"t1", 5}}});
    features = make_squad_features(data, vocab(), {24, 6, 8});
    logits.max_seq = features.max_seq;
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.f, 1.f);
    for (int64_t i = 0; i < features.num_windows() * features.max_seq; ++i) {
      logits.start_logits.push_back(noise(rng));
      logits.end_logits.push_back(noise(rng));
    }
    for (const auto& q : data.questions) contexts.push_back(data.contexts[q.context]);
  }

  // Position in window w of the context token starting at byte `begin`, or -1.
  int64_t position(int64_t w, int32_t begin) const {
    for (int64_t p = 0; p < features.max_seq; ++p)
      if (features.offsets[(w * features.max_seq + p) * 2] == begin) return p;
    return -1;
  }
  int64_t position_ending(int64_t w, int32_t end) const {
    for (int64_t p = 0; p < features.max_seq; ++p)
      if (features.offsets[(w * features.max_seq + p) * 2] >= 0 &&
          features.offsets[(w * features.max_seq + p) * 2 + 1] == end)
        return p;
    return -1;
  }
  // The bytes [begin, end) of the first `text` in the context (both examples
  // share it).
  std::pair<int32_t, int32_t> span_of(const std::string& text) const {
    const auto begin = static_cast<int32_t>(data.contexts[0].find(text));
    return {begin, begin + static_cast<int32_t>(text.size())};
  }
  // Every window of example e that contains both ends of the span.
  std::vector<int64_t> windows_with(int e, int32_t begin, int32_t end) const {
    std::vector<int64_t> found;
    for (int64_t w = 0; w < features.num_windows(); ++w)
      if (features.example_index[w] == e && position(w, begin) >= 0 && position_ending(w, end) >= 0) found.push_back(w);
    return found;
  }
  // A model that found the span scores it high wherever it sees it.
  void plant(int e, int32_t begin, int32_t end, float logit) {
    const int64_t s = features.max_seq;
    for (int64_t w : windows_with(e, begin, end)) {
      start_logits()[w * s + position(w, begin)] = logit;
      end_logits()[w * s + position_ending(w, end)] = logit;
    }
  }
  std::vector<float>& start_logits() { return logits.start_logits; }
  std::vector<float>& end_logits() { return logits.end_logits; }
};

TEST(SquadPostprocess, RecoversPlantedSpanAcrossWindows) {
  Fixture fx;
  ASSERT_GT(fx.features.num_windows(), 6);
  // Plant "t40 t41 t42é" (tokens t40, t41, t42, ##é) for example 0, "t12é" for example 1.
  const std::string span0 = "t40 t41 t42é", span1 = "t12é";
  const auto [b0, e0] = fx.span_of(span0);
  const auto [b1, e1] = fx.span_of(span1);
  ASSERT_GE(fx.windows_with(0, b0, e0).size(), 2u);  // the span is seen by overlapping windows
  fx.plant(0, b0, e0, 10);
  fx.plant(1, b1, e1, 9);
  const auto preds = postprocess_squad(fx.features, fx.logits, fx.contexts);
  ASSERT_EQ(preds.size(), 2u);
  EXPECT_EQ(preds[0].text, span0);
  EXPECT_EQ(preds[1].text, span1);
  EXPECT_FLOAT_EQ(preds[0].score, 20.f);
}

TEST(SquadPostprocess, IgnoresQuestionTokensReversedAndOverlongSpans) {
  Fixture fx;
  const int64_t s = fx.features.max_seq;
  const auto [b, e] = fx.span_of("t30");
  const auto all = fx.windows_with(0, b, e);
  ASSERT_FALSE(all.empty());
  // Highest logits on the question and [CLS]: not answers.
  for (int64_t v = 0; v < fx.features.num_windows(); ++v) {
    fx.logits.start_logits[v * s + 0] = 50;
    fx.logits.end_logits[v * s + 1] = 50;
  }
  // End before start within the window: not an answer.
  for (int64_t w : all) {
    fx.logits.start_logits[w * s + fx.position(w, b)] = 30;
    fx.logits.end_logits[w * s + fx.position(w, b) - 1] = 30;
    fx.logits.end_logits[w * s + fx.position_ending(w, e)] = 5;
  }
  auto preds = postprocess_squad(fx.features, fx.logits, fx.contexts);
  EXPECT_EQ(preds[0].text, "t30");
  // With a maximum answer length of 1 token every multi-token span is out too.
  SquadPostprocessOptions one;
  one.max_answer_length = 1;
  for (const auto& p : postprocess_squad(fx.features, fx.logits, fx.contexts, one)) {
    EXPECT_EQ(p.text.find(' '), std::string::npos) << p.text;
  }
}

TEST(SquadPostprocess, StartsOnlyInTheWindowWhereTheTokenHasMostContext) {
  Fixture fx;
  const int64_t s = fx.features.max_seq;
  const auto [b, e] = fx.span_of("t30");
  const auto all = fx.windows_with(0, b, e);
  ASSERT_GE(all.size(), 2u);
  // Window stride 6 and 19 context tokens per window: the window where "t30"
  // is nearest the middle has the most context; give every other window a
  // a much higher start logit for the same span.
  int64_t centre = -1, best = -1;
  for (int64_t w : all) {
    int64_t first = -1, last = -1;
    for (int64_t p = 0; p < s; ++p)
      if (fx.features.offsets[(w * s + p) * 2] >= 0) {
        if (first < 0) first = p;
        last = p;
      }
    const int64_t pos = fx.position(w, b), context = std::min(pos - first, last - pos);
    if (context > best) {
      best = context;
      centre = w;
    }
  }
  for (int64_t w : all) {
    const float logit = w == centre ? 10.f : 20.f;
    fx.logits.start_logits[w * s + fx.position(w, b)] = logit;
    fx.logits.end_logits[w * s + fx.position_ending(w, e)] = 10.f;
  }
  auto preds = postprocess_squad(fx.features, fx.logits, fx.contexts);
  EXPECT_EQ(preds[0].text, "t30");
  EXPECT_FLOAT_EQ(preds[0].score, 20.f);
  SquadPostprocessOptions anywhere;
  anywhere.require_max_context = false;
  preds = postprocess_squad(fx.features, fx.logits, fx.contexts, anywhere);
  EXPECT_EQ(preds[0].text, "t30");
  EXPECT_FLOAT_EQ(preds[0].score, 30.f);
}

TEST(SquadPostprocess, PaddingPositionsCannotCrowdRealTokensOutOfTheNBest) {
  // One short context in a long window: most of the window is padding, where
  // an engine that does not mask (ONNX Runtime, PyTorch on raw logits) leaves
  // logits higher than any real token's.
  SquadDataset data;
  data.contexts = {"t1 t2 t3 t4 t5"};
  data.questions.push_back({"only", "what ?", 0, {{"t3", 6}}});
  const SquadFeatures features = make_squad_features(data, vocab(), {24, 6, 8});
  ASSERT_EQ(features.num_windows(), 1);
  const int64_t s = features.max_seq;
  int64_t padding = 0, t3 = -1;
  for (int64_t p = 0; p < s; ++p) {
    padding += features.attention_mask[p] == 0;
    if (features.offsets[p * 2] == 6) t3 = p;
  }
  SquadPostprocessOptions options;
  options.n_best = 5;
  ASSERT_GE(padding, options.n_best);
  ASSERT_GE(t3, 0);
  SquadLogits logits;
  logits.max_seq = s;
  for (int64_t p = 0; p < s; ++p) {
    const bool pad = features.attention_mask[p] == 0;
    logits.start_logits.push_back(pad ? 50.f : (p == t3 ? 10.f : 1.f));
    logits.end_logits.push_back(pad ? 50.f : (p == t3 ? 10.f : 1.f));
  }
  const std::vector<std::string_view> contexts{data.contexts[0]};
  const auto preds = postprocess_squad(features, logits, contexts, options);
  EXPECT_EQ(preds[0].text, "t3");
  EXPECT_FLOAT_EQ(preds[0].score, 20.f);
}

TEST(SquadPostprocess, LogitsOfAnotherShapeAreRejected) {
  Fixture fx;
  fx.logits.start_logits.resize(fx.logits.start_logits.size() - fx.features.max_seq);
  fx.logits.end_logits.resize(fx.logits.start_logits.size());
  EXPECT_THROW(postprocess_squad(fx.features, fx.logits, fx.contexts), Error);
}

}  // namespace
}  // namespace fastbert
