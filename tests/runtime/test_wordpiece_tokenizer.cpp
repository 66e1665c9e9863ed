#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/runtime/tokenizers/wordpiece_tokenizer.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> test_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "οδος",   "οδοσ",   "σ",      "want",  "##want", "##ed",
          "wa",    "un",    "runn",  "##ing", ",",      "low",    "lowest", "hello",  "!",     "how",    "are",
          "you",   "?",     "ah",    "zz",    "\u535A", "\u63A8", "creme",  "brulee", "world", "##aff",  "##able",
          "a",     "##a",   "caf",   "##e",   "Crème",  "'",      "s",      "我",     "爱",    "ab"};
}

WordPieceTokenizer make(bool lower = true) {
  WordPieceOptions o;
  o.do_lower_case = lower;
  return WordPieceTokenizer(test_vocab(), o);
}

std::vector<std::string> spans(const std::string& text, const Encoding& e) {
  std::vector<std::string> out;
  for (const auto& o : e.offsets) out.push_back(text.substr(o.begin, o.end - o.begin));
  return out;
}

using Strings = std::vector<std::string>;

// Hugging Face's test_tokenization_bert.py cases.
TEST(WordPieceTokenizer, LowerCasesAndSplitsPunctuationLikeBertBasicTokenizer) {
  EXPECT_EQ(make().tokenize(" \tHeLLo!how  \n Are yoU?  "), (Strings{"hello", "!", "how", "are", "you", "?"}));
}

TEST(WordPieceTokenizer, SplitsCjkIdeographsIntoSingleTokens) {
  EXPECT_EQ(make().tokenize("ah\u535A\u63A8zz"), (Strings{"ah", "\u535A", "\u63A8", "zz"}));
  const std::string text = "我爱ab";
  const Encoding e = make().encode(text);
  EXPECT_EQ(spans(text, e), (Strings{"我", "爱", "ab"}));
  EXPECT_EQ(e.offsets[1], (TokenOffset{3, 6}));
}

TEST(WordPieceTokenizer, GreedyLongestMatchWithContinuationPieces) {
  EXPECT_EQ(make().tokenize("unwanted running"), (Strings{"un", "##want", "##ed", "runn", "##ing"}));
  const std::string text = "unaffable";
  const Encoding e = make().encode(text);
  EXPECT_EQ(make().tokenize(text), (Strings{"un", "##aff", "##able"}));
  EXPECT_EQ(spans(text, e), (Strings{"un", "aff", "able"}));
}

TEST(WordPieceTokenizer, WordWithUnmatchedRestBecomesOneUnk) {
  EXPECT_EQ(make().tokenize("unwantedX running"), (Strings{"[UNK]", "runn", "##ing"}));
  const std::string text = "xyz hello";
  const Encoding e = make().encode(text);
  EXPECT_EQ(e.ids[0], make().unk_id());
  EXPECT_EQ(e.offsets[0], (TokenOffset{0, 3}));
}

TEST(WordPieceTokenizer, WordsLongerThan100CharactersBecomeUnk) {
  const std::string hundred(100, 'a');
  const Encoding ok = make().encode(hundred);
  ASSERT_EQ(ok.ids.size(), 100u);
  EXPECT_EQ(make().id_to_token(ok.ids[0]), "a");
  EXPECT_EQ(make().id_to_token(ok.ids[99]), "##a");
  const std::string text = "hello " + std::string(101, 'a') + " you";
  const Encoding e = make().encode(text);
  ASSERT_EQ(e.ids.size(), 3u);
  EXPECT_EQ(e.ids[1], make().unk_id());
  EXPECT_EQ(e.offsets[1], (TokenOffset{6, 107}));
}

TEST(WordPieceTokenizer, StripsAccentsAndMapsOffsetsToOriginalBytes) {
  const std::string text = "Crème Brûlée";
  const Encoding e = make().encode(text);
  EXPECT_EQ(make().tokenize(text), (Strings{"creme", "brulee"}));
  ASSERT_EQ(e.offsets.size(), 2u);
  EXPECT_EQ(e.offsets[0], (TokenOffset{0, 6}));   // "Crème": è is two bytes
  EXPECT_EQ(e.offsets[1], (TokenOffset{7, 15}));  // "Brûlée": û and é are two bytes each
  EXPECT_EQ(spans(text, e), (Strings{"Crème", "Brûlée"}));
}

TEST(WordPieceTokenizer, DecomposedAccentsAndSubwordOffsetsStayOnCharacterBoundaries) {
  // "Cafe" + combining acute accent (U+0301), then "'s": the accent is dropped
  // from the ids but stays inside the "##e" piece's span.
  const std::string text = "Cafe\u0301's";
  const Encoding e = make().encode(text);
  EXPECT_EQ(make().tokenize(text), (Strings{"caf", "##e", "'", "s"}));
  EXPECT_EQ(spans(text, e), (Strings{"Caf", "e\u0301", "'", "s"}));
}

TEST(WordPieceTokenizer, CasedModeKeepsCaseAndAccents) {
  const std::string text = "Crème hello";
  EXPECT_EQ(make(false).tokenize(text), (Strings{"Crème", "hello"}));
  EXPECT_EQ(make(false).tokenize("Hello"), (Strings{"[UNK]"}));
}

TEST(WordPieceTokenizer, CasedModeComposesDecomposedAccentsLikeNfc) {
  // "Cre" + U+0300 (combining grave) + "me" is "Crème" after NFC.
  const std::string text = "Cre\u0300me!";
  const Encoding e = make(false).encode(text);
  EXPECT_EQ(make(false).tokenize(text), (Strings{"Crème", "!"}));
  EXPECT_EQ(spans(text, e), (Strings{"Cre\u0300me", "!"}));
}

TEST(WordPieceTokenizer, DropsControlCharactersAndSplitsOnUnicodeSpaces) {
  const std::string text = std::string("hello\x01") + "\xC2\xA0you\xEF\xBF\xBD!";
  const Encoding e = make().encode(text);
  EXPECT_EQ(make().tokenize(text), (Strings{"hello", "you", "!"}));
  EXPECT_EQ(spans(text, e), (Strings{"hello", "you", "!"}));
  EXPECT_TRUE(make().encode(" \t\r\n").ids.empty());
}

TEST(WordPieceTokenizer, LineSeparatorSplitsWordsLikePythonStrSplit) {
  // U+2028 is neither BERT whitespace nor a control character, but
  // BasicTokenizer's whitespace_tokenize (str.split) splits on it.
  EXPECT_EQ(make().tokenize("hello\u2028you"), (Strings{"hello", "you"}));
}

TEST(WordPieceTokenizer, CapitalSigmaLowerCasesToFinalSigmaAtWordEnd) {
  // Python's str.lower: "ΟΔΟΣ" -> "οδος" (final sigma), but a lone "Σ" -> "σ".
  EXPECT_EQ(make().tokenize("ΟΔΟΣ, Σ"), (Strings{"οδος", ",", "σ"}));
}

TEST(WordPieceTokenizer, SpecialTokenIdsComeFromTheVocabulary) {
  const auto t = make();
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.cls_id(), 2);
  EXPECT_EQ(t.sep_id(), 3);
  EXPECT_EQ(t.token_to_id("##want"), 9);
  EXPECT_EQ(t.token_to_id("absent"), -1);
  EXPECT_EQ(t.vocab_size(), static_cast<int32_t>(test_vocab().size()));
}

TEST(WordPieceTokenizer, VocabularyWithoutSpecialTokensIsRejected) {
  try {
    WordPieceTokenizer({"[PAD]", "[UNK]", "hello"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'[CLS]'"), std::string::npos) << e.what();
  }
}

TEST(LoadTokenizer, DirectoryWithVocabAndConfigGivesCasedWordPiece) {
  const fs::path dir = fs::temp_directory_path() / ("fastbert-test-tok-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string vocab;
  for (const auto& t : test_vocab()) vocab += t + "\n";
  write_file_atomic(dir / "vocab.txt", vocab);
  EXPECT_EQ(load_tokenizer(dir)->encode("Crème").ids.size(), 1u);
  EXPECT_EQ(load_tokenizer(dir / "vocab.txt")->encode("HELLO").ids, (std::vector<int32_t>{18}));
  write_file_atomic(dir / "tokenizer_config.json", R"({"do_lower_case": false})");
  EXPECT_EQ(load_tokenizer(dir)->encode("HELLO").ids, (std::vector<int32_t>{1}));
  write_file_atomic(dir / "tokenizer_config.json", R"({"do_lower_case": )");
  try {
    load_tokenizer(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
  EXPECT_THROW(load_tokenizer(dir), Error);
}

}  // namespace
}  // namespace fastbert
