#include "fastbert/runtime/tokenizers/wordpiece_tokenizer.h"

#include <cstdint>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "unicode/unicode.h"

namespace fastbert {

namespace {

// One code point of normalised text and the bytes of the original text it came
// from. Lower-casing or NFD can turn one original character into several code
// points; each of them keeps the whole original character's span.
struct NormChar {
  char32_t cp;
  int32_t begin;
  int32_t end;
};

// The text split on whitespace after _clean_text and _tokenize_chinese_chars,
// with every character's original bytes.
std::vector<std::vector<NormChar>> whitespace_tokens(std::string_view text) {
  std::vector<std::vector<NormChar>> tokens;
  std::vector<NormChar> token;
  auto flush = [&] {
    if (!token.empty()) tokens.push_back(std::move(token));
    token.clear();
  };
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    const char32_t cp = unicode::decode(text, pos, &len);
    const NormChar c{cp, static_cast<int32_t>(pos), static_cast<int32_t>(pos + len)};
    pos += len;
    // _clean_text drops NUL, U+FFFD and control characters. Whitespace is
    // BERT's (which _clean_text turns into spaces) or Python's str.split()
    // (which also splits on U+2028/U+2029).
    if (cp == 0 || cp == 0xFFFD || unicode::is_bert_control(cp)) continue;
    if (unicode::is_bert_whitespace(cp) || unicode::is_python_space(cp)) {
      flush();
    } else if (unicode::is_cjk_ideograph(cp)) {
      flush();
      tokens.push_back({c});
    } else {
      token.push_back(c);
    }
  }
  flush();
  return tokens;
}

// BasicTokenizer: the "basic tokens" (words, single punctuation marks, CJK
// ideographs) as runs of normalised characters.
std::vector<std::vector<NormChar>> basic_tokenize(std::string_view text, bool lower_case) {
  std::vector<std::vector<NormChar>> tokens;
  std::vector<NormChar> word;
  auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  auto emit = [&](char32_t cp, int32_t begin, int32_t end) {
    // _run_split_on_punc: a punctuation mark is a token of its own.
    if (unicode::is_bert_punctuation(cp)) {
      flush();
      tokens.push_back({NormChar{cp, begin, end}});
    } else {
      word.push_back(NormChar{cp, begin, end});
    }
  };
  std::vector<char32_t> cps;
  char32_t decomposed[32];
  for (const auto& token : whitespace_tokens(text)) {
    if (!lower_case) {
      // Cased models see NFC text (Hugging Face normalises before splitting):
      // a combining mark joins the letter before it where a precomposed form exists.
      for (const NormChar& c : token) {
        char32_t composed = 0;
        if (!word.empty() && word.back().end == c.begin && unicode::may_compose_with_previous(c.cp) &&
            unicode::compose(word.back().cp, c.cp, &composed)) {
          word.back().cp = composed;
          word.back().end = c.end;
        } else {
          emit(c.cp, c.begin, c.end);
        }
      }
      flush();
      continue;
    }
    // str.lower() of the whole token (its final-sigma rule looks at
    // neighbours), then NFD, dropping non-spacing marks (accents).
    cps.clear();
    for (const NormChar& c : token) cps.push_back(c.cp);
    for (size_t i = 0; i < token.size(); ++i) {
      const NormChar& c = token[i];
      char32_t lowered[2];
      const int num_lowered = unicode::python_lower_char(cps.data(), cps.size(), i, lowered);
      for (int k = 0; k < num_lowered; ++k) {
        const int n = unicode::decompose(lowered[k], decomposed, 32);
        for (int j = 0; j < n; ++j) {
          if (unicode::is_nonspacing_mark(decomposed[j])) {
            // A dropped accent still belongs to the letter before it, so an
            // answer span ending on that letter keeps its accent.
            if (!word.empty() && word.back().end == c.begin) word.back().end = c.end;
            continue;
          }
          emit(decomposed[j], c.begin, c.end);
        }
      }
    }
    flush();
  }
  return tokens;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)), source_("in-memory") {
  ids_.reserve(vocab_.size());
  // Like Hugging Face's load_vocab, a repeated token keeps its last line.
  for (size_t i = 0; i < vocab_.size(); ++i) ids_[vocab_[i]] = static_cast<int32_t>(i);
  unk_id_ = required_id(options_.unk_token);
  cls_id_ = required_id(options_.cls_token);
  sep_id_ = required_id(options_.sep_token);
  pad_id_ = required_id(options_.pad_token);
}

int32_t WordPieceTokenizer::required_id(const std::string& token) const {
  auto it = ids_.find(token);
  if (it == ids_.end())
    throw Error("WordPiece vocabulary has no special token '" + token + "' (a line holding exactly it)");
  return it->second;
}

WordPieceTokenizer WordPieceTokenizer::from_file(const std::filesystem::path& vocab_txt, WordPieceOptions options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(vocab_txt, ec))
    throw Error(vocab_txt.string() + ": cannot open WordPiece vocabulary");
  return from_text(read_file(vocab_txt), vocab_txt.string(), std::move(options));
}

WordPieceTokenizer WordPieceTokenizer::from_text(std::string_view text, const std::string& source,
                                                 WordPieceOptions options) {
  std::vector<std::string> vocab = parse_wordpiece_vocab(text, source);
  try {
    WordPieceTokenizer t(std::move(vocab), std::move(options));
    t.source_ = source;
    return t;
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
}

Encoding WordPieceTokenizer::encode(std::string_view text) const {
  // Offsets are int32, like the features file that stores them.
  if (text.size() > static_cast<size_t>(INT32_MAX))
    throw Error("text of " + std::to_string(text.size()) + " bytes is too long to tokenize");
  Encoding enc;
  std::string piece;
  std::vector<size_t> char_bytes;  // byte offset of each code point in `word`, plus the end
  std::string word;
  for (const auto& token : basic_tokenize(text, options_.do_lower_case)) {
    const TokenOffset whole{token.front().begin, token.back().end};
    if (static_cast<int>(token.size()) > options_.max_input_chars_per_word) {
      enc.ids.push_back(unk_id_);
      enc.offsets.push_back(whole);
      continue;
    }
    word.clear();
    char_bytes.clear();
    for (const auto& c : token) {
      char_bytes.push_back(word.size());
      unicode::append_utf8(word, c.cp);
    }
    char_bytes.push_back(word.size());

    // Greedy longest-match-first; the whole word is [UNK] if any part fails.
    const size_t first = enc.ids.size();
    const size_t n = token.size();
    size_t start = 0;
    bool bad = false;
    while (start < n) {
      size_t end = n;
      int32_t found = -1;
      while (start < end) {
        piece.clear();
        if (start > 0) piece = "##";
        piece.append(word, char_bytes[start], char_bytes[end] - char_bytes[start]);
        auto it = ids_.find(piece);
        if (it != ids_.end()) {
          found = it->second;
          break;
        }
        --end;
      }
      if (found < 0) {
        bad = true;
        break;
      }
      enc.ids.push_back(found);
      enc.offsets.push_back(TokenOffset{token[start].begin, token[end - 1].end});
      start = end;
    }
    if (bad) {
      enc.ids.resize(first);
      enc.offsets.resize(first);
      enc.ids.push_back(unk_id_);
      enc.offsets.push_back(whole);
    }
  }
  return enc;
}

int32_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  return it == ids_.end() ? -1 : it->second;
}

std::string WordPieceTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size()) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
  return vocab_[static_cast<size_t>(id)];
}

std::string WordPieceTokenizer::description() const {
  return "wordpiece:" + source_ + (options_.do_lower_case ? " (lower-case)" : " (cased)");
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (int32_t id : encode(text).ids) out.push_back(vocab_[static_cast<size_t>(id)]);
  return out;
}

}  // namespace fastbert
