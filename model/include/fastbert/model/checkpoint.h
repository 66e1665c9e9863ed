#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "fastbert/model/bert_qa.h"

namespace fastbert {

// A checkpoint is a Hugging Face model directory: config.json,
// model.safetensors and the tokenizer files, so transformers loads what
// fastbert writes and fastbert loads what transformers writes.

struct CheckpointLoadInfo {
  bool random_init = false;          // config.json only: every weight is fresh
  bool qa_head_initialised = false;  // a BertModel checkpoint: fresh QA head
  std::vector<std::string> ignored;  // tensors that are not part of the QA model (pooler, MLM head, ...)
};

// Accepts BertForQuestionAnswering names ("bert.embeddings...", "qa_outputs.*")
// and plain BertModel names ("embeddings...", "encoder..."). Throws
// fastbert::Error for a missing config, a missing or unexpected encoder tensor
// and any shape mismatch, naming the file and tensor.
BertForQuestionAnswering load_bert_qa(const std::filesystem::path& dir, CheckpointLoadInfo* info = nullptr);

// Writes config.json + model.safetensors (F32) into an existing directory and
// copies the tokenizer files found in `tokenizer_dir` (if not empty).
void write_bert_qa_files(BertForQuestionAnswering& model, const std::filesystem::path& dir,
                         const std::filesystem::path& tokenizer_dir);

// Atomic: `dir` is replaced only once the complete checkpoint is on disk.
void save_bert_qa(BertForQuestionAnswering& model, const std::filesystem::path& dir,
                  const std::filesystem::path& tokenizer_dir);

// The tokenizer files a checkpoint carries along when they exist.
const std::vector<std::string>& tokenizer_file_names();

}  // namespace fastbert
