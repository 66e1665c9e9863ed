#pragma once
// What a model's tokenizer is: its kind, its text preparation and the file
// that holds it. One spec is read from a checkpoint directory (Hugging Face
// layout: vocab.txt or a SentencePiece .model, options from
// tokenizer_config.json), written into the .fbm manifest by the export and
// read back by the engine, so a checkpoint and its export tokenize alike.
// Building the tokenizer from a spec is the runtime's make_tokenizer().
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fastbert {

enum class TokenizerKind { wordpiece, sentencepiece };

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::wordpiece;
  // WordPiece: BERT's do_lower_case (lower-case and strip accents). Default
  // true, as Hugging Face's BertTokenizer.
  // SentencePiece: lower-case before the model (ALBERT's do_lower_case).
  // Default false: a model without the key leaves the text to SentencePiece.
  bool do_lower_case = true;
  // SentencePiece only: NFKD, then drop combining marks (ALBERT's
  // keep_accents = false). Default false (keep_accents = true).
  bool strip_accents = false;
  // vocab.txt or the .model file the spec was read from (empty for one read
  // from a .fbm manifest, whose tokenizer lives in a dataset).
  std::filesystem::path file;
};

// The spec of the tokenizer at `path`: a directory holding vocab.txt
// (preferred) or spiece.model / sentencepiece.bpe.model / tokenizer.model,
// or one such file; options from tokenizer_config.json beside it. Throws
// fastbert::Error naming the file and key of anything missing or malformed.
TokenizerSpec read_tokenizer_spec(const std::filesystem::path& path);

// The manifest's "tokenizer" object (docs/fbm-format.md) as JSON text, and
// back; `source` names the file in errors. A manifest without
// "strip_accents" (written before it was stored) reads as false.
std::string tokenizer_spec_to_json(const TokenizerSpec& spec);
TokenizerSpec tokenizer_spec_from_json(std::string_view json, const std::string& source);

// The tokens of a WordPiece vocabulary text, one per line ("\r\n" allowed),
// id = line number. Throws fastbert::Error naming `source` for an empty one.
std::vector<std::string> parse_wordpiece_vocab(std::string_view text, const std::string& source);

}  // namespace fastbert
