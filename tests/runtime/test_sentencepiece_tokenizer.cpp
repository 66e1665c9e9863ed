#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>

#include <filesystem>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/runtime/tokenizers/sentencepiece_tokenizer.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

// Trains a tiny unigram model once for the whole suite (well under a second).
class SentencePieceTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fastbert-test-spm-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::string corpus;
    const char* lines[] = {"the quick brown fox jumps over the lazy dog", "a crème brûlée is a dessert of rich custard",
                           "question answering finds the answer span in the context",
                           "the fox and the dog are friends in the story",
                           "windows of the context overlap by a stride of tokens"};
    for (int r = 0; r < 20; ++r)
      for (const char* l : lines) corpus += std::string(l) + "\n";
    write_file_atomic(dir_ / "corpus.txt", corpus);
    const auto status = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + (dir_ / "corpus.txt").string() + " --model_prefix=" + (dir_ / "tiny").string() +
        " --vocab_size=60 --hard_vocab_limit=false --model_type=unigram --character_coverage=1.0 --num_threads=1"
        " --pad_id=0 --unk_id=1 --bos_id=-1 --eos_id=-1 --user_defined_symbols=[CLS],[SEP]"
        " --minloglevel=2");
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static fs::path dir_;
};
fs::path SentencePieceTokenizerTest::dir_;

TEST_F(SentencePieceTokenizerTest, FindsSpecialPiecesOfTheModel) {
  SentencePieceTokenizer t(dir_ / "tiny.model");
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.id_to_token(t.cls_id()), "[CLS]");
  EXPECT_EQ(t.id_to_token(t.sep_id()), "[SEP]");
  EXPECT_GT(t.vocab_size(), 20);
  EXPECT_LE(t.vocab_size(), 60);
  EXPECT_EQ(t.token_to_id("no-such-piece"), -1);
}

TEST_F(SentencePieceTokenizerTest, OffsetsCoverEveryNonSpaceByteInOrder) {
  SentencePieceTokenizer t(dir_ / "tiny.model");
  const std::string text = "the fox found a crème brûlée";
  const Encoding e = t.encode(text);
  ASSERT_FALSE(e.ids.empty());
  ASSERT_EQ(e.ids.size(), e.offsets.size());
  std::vector<bool> covered(text.size(), false);
  int32_t previous_end = 0;
  for (size_t i = 0; i < e.ids.size(); ++i) {
    EXPECT_GE(e.ids[i], 0);
    EXPECT_LT(e.ids[i], t.vocab_size());
    EXPECT_GE(e.offsets[i].begin, previous_end) << "piece " << i;
    EXPECT_LE(e.offsets[i].end, static_cast<int32_t>(text.size()));
    previous_end = e.offsets[i].end;
    for (int32_t b = e.offsets[i].begin; b < e.offsets[i].end; ++b) covered[b] = true;
    // The piece's text (with ▁ for a space) is the covered text, up to that space.
    std::string piece = t.id_to_token(e.ids[i]);
    if (piece.rfind("\xE2\x96\x81", 0) == 0) piece = piece.substr(3);
    std::string surface = text.substr(e.offsets[i].begin, e.offsets[i].end - e.offsets[i].begin);
    if (!surface.empty() && surface[0] == ' ') surface = surface.substr(1);
    if (e.ids[i] != t.unk_id()) {
      EXPECT_EQ(piece, surface) << "piece " << i;
    }
  }
  for (size_t b = 0; b < text.size(); ++b)
    if (text[b] != ' ') {
      EXPECT_TRUE(covered[b]) << "byte " << b << " of '" << text << "' is in no piece";
    }
  // Multi-byte characters are never cut: every span starts on a UTF-8 lead byte.
  for (const auto& o : e.offsets)
    if (o.begin < static_cast<int32_t>(text.size())) {
      EXPECT_NE(static_cast<unsigned char>(text[o.begin]) & 0xC0, 0x80);
    }
}

TEST_F(SentencePieceTokenizerTest, LoadTokenizerPicksSentencePieceInADirectory) {
  fs::copy_file(dir_ / "tiny.model", dir_ / "spiece.model", fs::copy_options::overwrite_existing);
  const auto t = load_tokenizer(dir_);
  EXPECT_NE(t->description().find("sentencepiece:"), std::string::npos);
  EXPECT_EQ(t->encode("the fox").ids, SentencePieceTokenizer(dir_ / "tiny.model").encode("the fox").ids);
}

TEST_F(SentencePieceTokenizerTest, LowerCasingAndAccentStrippingKeepOffsetsInTheOriginalText) {
  SentencePieceOptions options;
  options.lower_case = true;
  options.strip_accents = true;
  SentencePieceTokenizer albert_like(dir_ / "tiny.model", options), plain(dir_ / "tiny.model");
  const std::string text = "The FOX found a Crème Brûlée";
  const Encoding e = albert_like.encode(text);
  EXPECT_EQ(e.ids, plain.encode("the fox found a creme brulee").ids);
  // Consecutive pieces tile the original text (a piece's span includes the
  // space its "▁" stands for), so "Crème" and "Brûlée" map back whole.
  std::string joined;
  for (const auto& o : e.offsets) joined += text.substr(o.begin, o.end - o.begin);
  EXPECT_EQ(joined, text);
}

TEST_F(SentencePieceTokenizerTest, TokenizerConfigTurnsOnAlbertPreprocessing) {
  const fs::path dir = dir_ / "albert";
  fs::create_directories(dir);
  fs::copy_file(dir_ / "tiny.model", dir / "spiece.model", fs::copy_options::overwrite_existing);
  write_file_atomic(dir / "tokenizer_config.json", R"({"do_lower_case": true, "keep_accents": false})");
  const auto t = load_tokenizer(dir);
  EXPECT_NE(t->description().find("(lower-case) (no accents)"), std::string::npos) << t->description();
  EXPECT_EQ(t->encode("FOX Crème").ids, SentencePieceTokenizer(dir / "spiece.model").encode("fox creme").ids);
}

TEST_F(SentencePieceTokenizerTest, CorruptModelFileIsRejected) {
  write_file_atomic(dir_ / "broken.model", "this is not a protobuf model");
  try {
    SentencePieceTokenizer t(dir_ / "broken.model");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SentencePieceTokenizer(dir_ / "absent.model"), Error);
}

}  // namespace
}  // namespace fastbert
