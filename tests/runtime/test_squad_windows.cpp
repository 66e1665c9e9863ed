#include <gtest/gtest.h>

#include <set>

#include "fastbert/common/error.h"
#include "fastbert/runtime/squad/squad_windows.h"
#include "fastbert/runtime/tokenizers/wordpiece_tokenizer.h"

namespace fastbert {
namespace {

// Words w0..w99 are whole tokens; "##x" lets "w5x" split into two pieces.
WordPieceTokenizer numbered_vocab() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "where", "is", "it", "?", "##x", "."};
  for (int i = 0; i < 100; ++i) v.push_back("w" + std::to_string(i));
  return WordPieceTokenizer(v);
}

// A context of `words` words "w0 w1x w2 ..." (every odd word gets an extra
// "##x" piece) with the answer planted at word `answer_word`.
SquadDataset long_context(int words, int answer_word) {
  SquadDataset d;
  std::string context;
  int64_t answer_begin = 0;
  std::string answer;
  for (int i = 0; i < words; ++i) {
    if (i) context += " ";
    const std::string word = "w" + std::to_string(i % 100) + (i % 2 ? "x" : "");
    if (i == answer_word) {
      answer_begin = static_cast<int64_t>(context.size());
      answer = word;
    }
    context += word;
  }
  d.contexts.push_back(context);
  d.questions.push_back({"q", "Where is it?", 0, {{answer, answer_begin}}});
  return d;
}

TEST(SquadWindows, EveryContextTokenAppearsInSomeWindowWithItsOffsets) {
  const auto tok = numbered_vocab();
  const SquadDataset d = long_context(150, 120);
  const Encoding context = tok.encode(d.contexts[0]);
  ASSERT_EQ(context.ids.size(), 225u);
  for (int64_t stride : {1, 7, 32}) {
    const SquadFeatures f = make_squad_features(d, tok, {48, stride, 64});
    f.validate();
    std::set<std::pair<int32_t, int32_t>> seen;
    for (int64_t w = 0; w < f.num_windows(); ++w)
      for (int64_t p = 0; p < f.max_seq; ++p) {
        const int32_t b = f.offsets[(w * f.max_seq + p) * 2], e = f.offsets[(w * f.max_seq + p) * 2 + 1];
        if (b < 0) continue;
        seen.insert({b, e});
        // The id at this position is the context token with these offsets.
        bool found = false;
        for (size_t t = 0; t < context.ids.size(); ++t)
          if (context.offsets[t].begin == b && context.offsets[t].end == e &&
              context.ids[t] == f.input_ids[w * f.max_seq + p])
            found = true;
        EXPECT_TRUE(found) << "window " << w << " position " << p;
      }
    for (const auto& o : context.offsets) EXPECT_TRUE(seen.count({o.begin, o.end})) << "stride " << stride;
    // Windows of 48 - 7 (question "where is it ?" + 3 specials) = 41 context
    // tokens; the last one starts at the first multiple of the stride >= 225 - 41.
    EXPECT_EQ(f.num_windows(), stride == 32 ? 7 : stride == 7 ? 28 : 185) << "stride " << stride;
  }
}

TEST(SquadWindows, WindowLayoutIsClsQuestionSepContextSepPadding) {
  const auto tok = numbered_vocab();
  const SquadDataset d = long_context(10, 3);
  const SquadFeatures f = make_squad_features(d, tok, {32, 8, 64});
  ASSERT_EQ(f.num_windows(), 1);
  // [CLS] where is it ? [SEP] w0 w1 ##x w2 w3 ##x ... w9 ##x [SEP] [PAD]...
  const std::vector<int32_t> head = {2, 4, 5, 6, 7, 3, tok.token_to_id("w0"), tok.token_to_id("w1"), 8};
  EXPECT_EQ(std::vector<int32_t>(f.input_ids.begin(), f.input_ids.begin() + 9), head);
  const int64_t end = 6 + 15;  // 15 context tokens
  EXPECT_EQ(f.input_ids[end], 3);
  EXPECT_EQ(f.input_ids[end + 1], 0);
  for (int64_t p = 0; p < 32; ++p) {
    EXPECT_EQ(f.attention_mask[p], p <= end ? 1 : 0) << p;
    EXPECT_EQ(f.token_type_ids[p], p >= 6 && p <= end ? 1 : 0) << p;
    EXPECT_EQ(f.offsets[p * 2] >= 0, p >= 6 && p < end) << p;
  }
  // Answer "w3x" = context tokens 4,5 (w0 w1 ##x w2 w3 ##x) -> positions 10, 11.
  EXPECT_EQ(f.start_positions[0], 10);
  EXPECT_EQ(f.end_positions[0], 11);
  EXPECT_EQ(f.example_ids, std::vector<std::string>{"q"});
}

TEST(SquadWindows, AnswerOutsideAWindowPointsAtCls) {
  const auto tok = numbered_vocab();
  const SquadDataset d = long_context(150, 120);
  const SquadFeatures f = make_squad_features(d, tok, {48, 32, 64});
  int holding = 0;
  for (int64_t w = 0; w < f.num_windows(); ++w) {
    if (f.start_positions[w] == 0) {
      EXPECT_EQ(f.end_positions[w], 0);
      continue;
    }
    ++holding;
    const int32_t* o = &f.offsets[w * f.max_seq * 2];
    const std::string answer =
        d.contexts[0].substr(o[f.start_positions[w] * 2], o[f.end_positions[w] * 2 + 1] - o[f.start_positions[w] * 2]);
    EXPECT_EQ(answer, "w20");
  }
  EXPECT_GE(holding, 1);
}

TEST(SquadWindows, QuestionIsTruncatedToMaxQuery) {
  const auto tok = numbered_vocab();
  const SquadFeatures f = make_squad_features(long_context(5, 0), tok, {24, 8, 2});
  // [CLS] where is [SEP] w0 ...
  EXPECT_EQ(f.input_ids[3], 3);
  EXPECT_EQ(f.token_type_ids[4], 1);
}

TEST(SquadWindows, MaxSeqWithoutRoomForContextIsAnError) {
  const auto tok = numbered_vocab();
  EXPECT_THROW(make_squad_features(long_context(5, 0), tok, {7, 8, 64}), Error);
}

}  // namespace
}  // namespace fastbert
