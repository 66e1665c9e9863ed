#pragma once
// Internal: the Unicode character classes that BERT's BasicTokenizer and the
// official SQuAD script use, expressed through utf8proc so that the C++ side
// classifies characters the way the Python reference implementations do.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fastbert::unicode {

struct TokenOffsetPair {
  int32_t begin;
  int32_t end;
};

// Decodes the code point at text[pos]; *length gets its byte length. Invalid
// UTF-8 yields U+FFFD with length 1 so that no input stops the scan.
char32_t decode(std::string_view text, size_t pos, size_t* length);
void append_utf8(std::string& out, char32_t cp);

// BERT BasicTokenizer classes (transformers/models/bert/tokenization_bert.py).
bool is_bert_whitespace(char32_t cp);   // space, \t, \n, \r, or category Zs
bool is_bert_control(char32_t cp);      // category C*, except \t \n \r
bool is_bert_punctuation(char32_t cp);  // ASCII non-alphanumeric symbols, or category P*
bool is_cjk_ideograph(char32_t cp);     // the CJK blocks BERT splits into single tokens
bool is_nonspacing_mark(char32_t cp);   // category Mn

// Simple lower-case mapping (Python's str.lower for all but a few special cases).
char32_t to_lower(char32_t cp);
// Canonical decomposition (NFD) of one code point; returns the count written.
int decompose(char32_t cp, char32_t* out, int capacity);

// Canonical combining class (0 for starters).
int combining_class(char32_t cp);
// True for characters NFC may merge into the character before them: combining
// marks, and Hangul vowel/trailing-consonant jamo.
bool may_compose_with_previous(char32_t cp);
// NFC composition of a starter and one following combining mark ("e" + U+0301
// -> "é"); false when the pair has no precomposed form.
bool compose(char32_t first, char32_t second, char32_t* composed);

// Python 3 str semantics used by the SQuAD metric.
bool is_python_space(char32_t cp);  // str.isspace / str.split()
bool is_python_word(char32_t cp);   // re's \w for str patterns
std::string python_lower(std::string_view text);
// str.lower() of cps[i] inside the string cps[0..n): writes 1 or 2 code points
// (U+0130 becomes "i" + U+0307; capital sigma becomes final sigma at the end
// of a word) and returns how many.
int python_lower_char(const char32_t* cps, size_t n, size_t i, char32_t* out);

// Text rewritten character by character, remembering for every byte of the
// new text the original character it came from.
struct MappedText {
  std::string text;
  std::vector<int32_t> begin;  // per byte of `text`: original character's first byte
  std::vector<int32_t> end;    // per byte of `text`: original character's end byte
  // Original bytes of new-text bytes [b, e); an empty span maps to an empty
  // span at the matching original position.
  TokenOffsetPair original_span(int32_t b, int32_t e, int32_t original_size) const;
};
// Python str.lower and/or NFKD with combining characters dropped (the
// ALBERT/XLNet preprocessing), keeping the map back to `text`.
MappedText prepare_text(std::string_view text, bool lower_case, bool strip_accents);

}  // namespace fastbert::unicode
