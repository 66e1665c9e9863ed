#include "unicode/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

namespace fastbert::unicode {

char32_t decode(std::string_view text, size_t pos, size_t* length) {
  utf8proc_int32_t cp = 0;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + pos),
                                              static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
  if (n <= 0) {
    *length = 1;
    return 0xFFFD;
  }
  *length = static_cast<size_t>(n);
  return static_cast<char32_t>(cp);
}

void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

static utf8proc_category_t category(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

bool is_bert_whitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return category(cp) == UTF8PROC_CATEGORY_ZS;
}

bool is_bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      return true;
    default:
      return false;
  }
}

bool is_bert_punctuation(char32_t cp) {
  // BERT treats every ASCII non-letter/number symbol as punctuation ("$", "^",
  // "`") even where Unicode calls it a symbol, for consistency.
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_nonspacing_mark(char32_t cp) { return category(cp) == UTF8PROC_CATEGORY_MN; }

char32_t to_lower(char32_t cp) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))); }

int decompose(char32_t cp, char32_t* out, int capacity) {
  utf8proc_int32_t buf[32];
  int last_boundclass = 0;
  const utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32, UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > capacity) {
    out[0] = cp;
    return 1;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out[i] = static_cast<char32_t>(buf[i]);
  return static_cast<int>(n);
}

int combining_class(char32_t cp) { return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class; }

bool may_compose_with_previous(char32_t cp) {
  return combining_class(cp) != 0 || (cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2);
}

bool compose(char32_t first, char32_t second, char32_t* composed) {
  std::string pair;
  append_utf8(pair, first);
  append_utf8(pair, second);
  utf8proc_uint8_t* nfc = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(pair.c_str()));
  if (!nfc) return false;
  const std::string_view result(reinterpret_cast<const char*>(nfc));
  size_t len = 0;
  const char32_t cp = result.empty() ? 0 : decode(result, 0, &len);
  const bool single = !result.empty() && len == result.size();
  std::free(nfc);
  if (!single) return false;
  *composed = cp;
  return true;
}

bool is_python_space(char32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_python_word(char32_t cp) {
  if (cp == '_') return true;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

namespace {

// Python's _PyUnicode_IsCased, approximated: letters with a case, and
// anything else that has a case mapping (Roman numerals, circled letters).
bool is_cased(char32_t cp) {
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
      return true;
    default: {
      // Other_Lowercase / Other_Uppercase: modifier and superscript letters.
      if (cp == 0xAA || cp == 0xBA || (cp >= 0x2B0 && cp <= 0x2B8) || cp == 0x2C0 || cp == 0x2C1 ||
          (cp >= 0x2E0 && cp <= 0x2E4) || cp == 0x345 || cp == 0x37A || (cp >= 0x1D2C && cp <= 0x1D6A) ||
          cp == 0x1D78 || (cp >= 0x1D9B && cp <= 0x1DBF) || cp == 0x2071 || cp == 0x207F ||
          (cp >= 0x2090 && cp <= 0x209C) || cp == 0x2C7C || cp == 0x2C7D || cp == 0xA69C || cp == 0xA69D ||
          cp == 0xA770 || cp == 0xA7F8 || cp == 0xA7F9 || (cp >= 0xAB5C && cp <= 0xAB5F))
        return true;
      const auto c = static_cast<utf8proc_int32_t>(cp);
      return utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
    }
  }
}

// Python's _PyUnicode_IsCaseIgnorable: marks, format characters, modifier
// letters and symbols, and the in-word punctuation of Unicode word breaking.
bool is_case_ignorable(char32_t cp) {
  switch (cp) {
    case '\'':
    case '.':
    case ':':
    case 0xB7:
    case 0x387:
    case 0x5F4:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0xFE13:
    case 0xFE52:
    case 0xFE55:
    case 0xFF07:
    case 0xFF0E:
    case 0xFF1A:
      return true;
    default:
      break;
  }
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      return false;
  }
}

// Unicode's Final_Sigma condition, as Python's str.lower applies it.
bool is_final_sigma(const char32_t* cps, size_t n, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(cps[j - 1])) --j;
  if (j == 0 || !is_cased(cps[j - 1])) return false;
  size_t k = i + 1;
  while (k < n && is_case_ignorable(cps[k])) ++k;
  return k == n || !is_cased(cps[k]);
}

}  // namespace

int python_lower_char(const char32_t* cps, size_t n, size_t i, char32_t* out) {
  const char32_t cp = cps[i];
  if (cp < 0x80) {
    out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    return 1;
  }
  if (cp == 0x130) {  // capital I with dot above -> i + combining dot above
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  if (cp == 0x3A3) {
    out[0] = is_final_sigma(cps, n, i) ? 0x3C2 : 0x3C3;
    return 1;
  }
  out[0] = to_lower(cp);
  return 1;
}

std::string python_lower(std::string_view text) {
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    cps.push_back(decode(text, pos, &len));
    pos += len;
  }
  std::string out;
  out.reserve(text.size());
  char32_t lowered[2];
  for (size_t i = 0; i < cps.size(); ++i) {
    const int k = python_lower_char(cps.data(), cps.size(), i, lowered);
    for (int j = 0; j < k; ++j) append_utf8(out, lowered[j]);
  }
  return out;
}

TokenOffsetPair MappedText::original_span(int32_t b, int32_t e, int32_t original_size) const {
  const int32_t n = static_cast<int32_t>(text.size());
  if (b >= n) return {original_size, original_size};
  if (e <= b) return {begin[b], begin[b]};
  return {begin[b], end[std::min(e, n) - 1]};
}

MappedText prepare_text(std::string_view text, bool lower_case, bool strip_accents) {
  std::vector<char32_t> cps;
  std::vector<int32_t> starts;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    starts.push_back(static_cast<int32_t>(pos));
    cps.push_back(decode(text, pos, &len));
    pos += len;
  }
  starts.push_back(static_cast<int32_t>(text.size()));
  MappedText out;
  out.text.reserve(text.size());
  auto put = [&](char32_t cp, size_t i) {
    append_utf8(out.text, cp);
    out.begin.resize(out.text.size(), starts[i]);
    out.end.resize(out.text.size(), starts[i + 1]);
  };
  utf8proc_int32_t buf[32];
  for (size_t i = 0; i < cps.size(); ++i) {
    // ALBERT strips accents first (NFKD, drop combining) and lower-cases after.
    char32_t stripped[32];
    int n = 1;
    stripped[0] = cps[i];
    if (strip_accents) {
      int last_boundclass = 0;
      const utf8proc_ssize_t m = utf8proc_decompose_char(
          static_cast<utf8proc_int32_t>(cps[i]), buf, 32,
          static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT), &last_boundclass);
      n = 0;
      if (m <= 0 || m > 32) {
        stripped[n++] = cps[i];
      } else {
        for (utf8proc_ssize_t k = 0; k < m; ++k)
          if (combining_class(static_cast<char32_t>(buf[k])) == 0) stripped[n++] = static_cast<char32_t>(buf[k]);
      }
    }
    for (int k = 0; k < n; ++k) {
      if (!lower_case) {
        put(stripped[k], i);
        continue;
      }
      char32_t lowered[2];
      // Final sigma looks at the neighbours in the original text, which
      // accent stripping does not change in case.
      const int m = cps[i] == 0x3A3 && stripped[k] == 0x3A3 ? python_lower_char(cps.data(), cps.size(), i, lowered)
                                                            : python_lower_char(&stripped[k], 1, 0, lowered);
      for (int j = 0; j < m; ++j) put(lowered[j], i);
    }
  }
  return out;
}

}  // namespace fastbert::unicode
