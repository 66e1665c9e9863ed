// One tokenizer spec from checkpoint to .fbm: a checkpoint and its export
// tokenize alike, and an export whose tokenizer would not load is refused.
#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/export/fbm_export.h"
#include "fastbert/formats/fbm_format.h"
#include "fastbert/formats/hdf5.h"
#include "fastbert/formats/tokenizer_spec.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using testing::TestDir;
using testing::TinyBert;
using testing::TinyBertSpec;

constexpr int64_t kEmbeddingRows = 160;

const std::vector<std::string>& words() {
  static const std::vector<std::string> w = {
      "the",  "The",    "THE",   "fox",   "Fox",    "dog",   "Denver", "denver", "broncos", "Broncos", "won",
      "game", "Game",   "crème", "Crème", "brûlée", "BRÛLÉE", "naïve", "Naïve",  "café",    "Café",    "résumé",
      "Ångström", "über", "Über", "Straße", "city",  "Santa", "Clara", "clara",  "50",      "1999",    "story",
      "about", "many", "things", "Zoë",  "élan",  "ÉLAN",  "what",   "Who",   "where",  "?",       ".",       ","};
  return w;
}

// Texts mixing case, accents, digits and punctuation, from a fixed seed.
std::vector<std::string> texts(int count) {
  std::mt19937_64 rng(7);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    const int n = std::uniform_int_distribution<int>(1, 14)(rng);
    std::string t;
    for (int j = 0; j < n; ++j) {
      if (j) t += std::uniform_int_distribution<int>(0, 9)(rng) == 0 ? "  " : " ";
      t += words()[std::uniform_int_distribution<size_t>(0, words().size() - 1)(rng)];
    }
    out.push_back(t);
  }
  return out;
}

// A WordPiece vocabulary holding cased and accented tokens, so that
// lower-casing and accent stripping change the ids.
std::string wordpiece_vocab() {
  std::string v = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (const std::string& w : words()) v += w + "\n";
  for (const char* w : {"creme", "brulee", "naive", "cafe", "resume", "angstrom", "uber", "zoe", "elan", "##s", "##e"})
    v += std::string(w) + "\n";
  return v;
}

// A tiny unigram SentencePiece model trained in-process on generated text
// with upper case and accents (libsentencepiece's trainer).
void train_sentencepiece(const fs::path& dir, const fs::path& model) {
  std::string corpus;
  for (const std::string& t : texts(400)) corpus += t + "\n";
  write_file_atomic(dir / "corpus.txt", corpus);
  const fs::path prefix = dir / "spm";
  const auto status = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + (dir / "corpus.txt").string() + " --model_prefix=" + prefix.string() +
      " --vocab_size=120 --hard_vocab_limit=false --model_type=unigram --character_coverage=1.0 --num_threads=1"
      " --pad_id=0 --unk_id=1 --bos_id=-1 --eos_id=-1 --user_defined_symbols=[CLS],[SEP] --minloglevel=2");
  ASSERT_TRUE(status.ok()) << status.ToString();
  fs::rename(prefix.string() + ".model", model);
}

struct TokenizerCase {
  const char* name;
  bool sentencepiece;
  const char* tokenizer_config;  // tokenizer_config.json
};

void PrintTo(const TokenizerCase& c, std::ostream* os) { *os << c.name; }

class TokenizerSpecRoundTrip : public ::testing::TestWithParam<TokenizerCase> {};

TEST_P(TokenizerSpecRoundTrip, CheckpointAndItsExportTokenize1000TextsIdentically) {
  const TokenizerCase& c = GetParam();
  TestDir dir("fastbert-tokenizer-spec");
  TinyBertSpec spec;
  spec.vocab = kEmbeddingRows;
  const fs::path ckpt = dir / "ckpt";
  TinyBert(spec).write_checkpoint(ckpt);
  if (c.sentencepiece) {
    fs::remove(ckpt / "vocab.txt");
    train_sentencepiece(dir.path(), ckpt / "spiece.model");
  } else {
    write_file_atomic(ckpt / "vocab.txt", wordpiece_vocab());
  }
  write_file_atomic(ckpt / "tokenizer_config.json", c.tokenizer_config);
  ExportOptions fp32;
  fp32.precision = ExportPrecision::fp32;
  export_fbm(ckpt, dir / "m.fbm", fp32);

  const std::unique_ptr<Tokenizer> checkpoint = load_tokenizer(ckpt);
  const Engine engine(dir / "m.fbm");
  // The same text with the checkpoint's lower-casing flipped: the texts must
  // tell the two apart, or this test could not see the flag lost.
  TokenizerSpec flipped = read_tokenizer_spec(ckpt);
  flipped.do_lower_case = !flipped.do_lower_case;
  const std::unique_ptr<Tokenizer> other = make_tokenizer(flipped, read_file(flipped.file), "flipped");
  int differ_from_flipped = 0;
  for (const std::string& t : texts(1000)) {
    const Encoding want = checkpoint->encode(t), got = engine.tokenizer().encode(t);
    ASSERT_EQ(got.ids, want.ids) << c.name << ": '" << t << "'";
    ASSERT_EQ(got.offsets, want.offsets) << c.name << ": '" << t << "'";
    differ_from_flipped += other->encode(t).ids != want.ids;
  }
  EXPECT_GT(differ_from_flipped, 100) << c.name << ": the texts barely exercise lower-casing";
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, TokenizerSpecRoundTrip,
    ::testing::Values(TokenizerCase{"WordPieceUncased", false, R"({"do_lower_case": true})"},
                      TokenizerCase{"WordPieceCased", false, R"({"do_lower_case": false})"},
                      // ALBERT: lower-case and strip accents before the model.
                      TokenizerCase{"SentencePieceLowerCased", true, R"({"do_lower_case": true, "keep_accents": false})"},
                      TokenizerCase{"SentencePieceAsIs", true, R"({"do_lower_case": false})"}),
    [](const auto& info) { return std::string(info.param.name); });

class ExportTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override { TinyBert(TinyBertSpec{}).write_checkpoint(dir_ / "ckpt"); }

  // The export's error message; the output must not exist afterwards.
  std::string export_error() {
    try {
      export_fbm(dir_ / "ckpt", dir_ / "m.fbm");
    } catch (const Error& e) {
      EXPECT_FALSE(fs::exists(dir_ / "m.fbm")) << "a refused export left its output";
      return e.what();
    }
    return "";
  }

  TestDir dir_{"fastbert-export-tokenizer"};
};

TEST_F(ExportTokenizerTest, VocabularyLargerThanTheEmbeddingsIsRefusedNamingTheFile) {
  std::string vocab = read_file(dir_ / "ckpt" / "vocab.txt");
  vocab += "extra\n";  // 41 tokens for the tiny model's 40 embedding rows
  write_file_atomic(dir_ / "ckpt" / "vocab.txt", vocab);
  const std::string e = export_error();
  EXPECT_NE(e.find("vocab.txt"), std::string::npos) << e;
  EXPECT_NE(e.find("41 tokens"), std::string::npos) << e;
  EXPECT_NE(e.find("vocab_size"), std::string::npos) << e;
  EXPECT_NE(e.find("40"), std::string::npos) << e;
}

TEST_F(ExportTokenizerTest, VocabularyWithoutUnkIsRefusedNamingTheFile) {
  std::string vocab = read_file(dir_ / "ckpt" / "vocab.txt");
  vocab.replace(vocab.find("[UNK]\n"), 6, "unk\n");
  write_file_atomic(dir_ / "ckpt" / "vocab.txt", vocab);
  const std::string e = export_error();
  EXPECT_NE(e.find("vocab.txt"), std::string::npos) << e;
  EXPECT_NE(e.find("[UNK]"), std::string::npos) << e;
}

TEST_F(ExportTokenizerTest, BrokenSentencePieceModelIsRefusedNamingTheFile) {
  fs::remove(dir_ / "ckpt" / "vocab.txt");
  write_file_atomic(dir_ / "ckpt" / "spiece.model", "this is not a SentencePiece model");
  const std::string e = export_error();
  EXPECT_NE(e.find("spiece.model"), std::string::npos) << e;
  EXPECT_NE(e.find("SentencePiece"), std::string::npos) << e;
}

TEST_F(ExportTokenizerTest, SentencePieceErrorOfAnFbmNamesTheFbmNotATemporaryFile) {
  TinyBertSpec spec;
  spec.vocab = kEmbeddingRows;
  TinyBert(spec).write_checkpoint(dir_ / "ckpt");
  fs::remove(dir_ / "ckpt" / "vocab.txt");
  train_sentencepiece(dir_.path(), dir_ / "ckpt" / "spiece.model");
  ExportOptions fp32;
  fp32.precision = ExportPrecision::fp32;
  export_fbm(dir_ / "ckpt", dir_ / "m.fbm", fp32);
  // Damage the model's bytes inside the file and re-stamp the checksum, as
  // a writer with a bug would: the file passes its checks, the model does not.
  const int64_t offset = hdf5::File::open(dir_ / "m.fbm").dataset_offset("tokenizer_sentencepiece_model");
  {
    std::fstream io(dir_ / "m.fbm", std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(offset);
    const std::string garbage(64, '\xff');
    io.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  fbm::stamp_file(dir_ / "m.fbm");
  try {
    Engine engine(dir_ / "m.fbm");
    FAIL() << "a damaged SentencePiece model loaded";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find((dir_ / "m.fbm").string()), std::string::npos) << m;
    EXPECT_NE(m.find("tokenizer_sentencepiece_model"), std::string::npos) << m;
    EXPECT_EQ(m.find("fastbert-spm"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace fastbert
