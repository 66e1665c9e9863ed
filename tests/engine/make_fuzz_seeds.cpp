// Writes the seed corpora of the libFuzzer targets (scripts/fuzz.sh) into
// OUT_DIR/<target>/: small valid files of every kind a reader takes, so the
// fuzzers start from the real structure (the HDF5 ones with valid checksums).
#include <filesystem>
#include <iostream>

#include "fastbert/common/atomic_file.h"
#include "fastbert/export/fbm_export.h"
#include "fastbert/formats/squad_features.h"
#include "tiny_bert.h"

namespace {
namespace fs = std::filesystem;

fastbert::SquadFeatures small_features(bool teacher) {
  fastbert::SquadFeatures f;
  f.max_seq = 8;
  f.doc_stride = 4;
  f.max_query = 2;
  f.tokenizer = "wordpiece:seed";
  const int n = 3;
  for (int i = 0; i < n * 8; ++i) {
    f.input_ids.push_back(5 + i % 30);
    f.token_type_ids.push_back(i % 8 >= 4);
    f.attention_mask.push_back(i % 8 < 7);
    f.offsets.push_back(i % 8 >= 4 ? i : -1);
    f.offsets.push_back(i % 8 >= 4 ? i + 2 : -1);
    if (teacher) {
      f.teacher_start_logits.push_back(0.5f * i);
      f.teacher_end_logits.push_back(-0.5f * i);
    }
  }
  f.start_positions = {4, 0, 5};
  f.end_positions = {5, 0, 6};
  f.example_index = {0, 1, 1};
  f.example_ids = {"q-1", "q-2"};
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_fuzz_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* d : {"fbm_loader_fuzz", "squad_features_fuzz", "squad_logits_fuzz", "safetensors_fuzz",
                        "quantization_json_fuzz", "squad_json_fuzz"})
    fs::create_directories(out / d);
  fastbert::testing::TinyBertSpec spec;
  spec.hidden = 16;
  spec.heads = 2;
  spec.intermediate = 32;
  spec.layers = 1;
  spec.max_position = 16;
  spec.block_sparsity = 0.8;
  fastbert::testing::TinyBert model(spec);
  const fs::path ckpt = out / "ckpt.tmp";
  model.write_calibrated_checkpoint(ckpt, 2, 8, 1);
  fastbert::ExportOptions o;
  o.precision = fastbert::ExportPrecision::fp32;
  fastbert::export_fbm(ckpt, out / "fbm_loader_fuzz/fp32.fbm", o);
  o.precision = fastbert::ExportPrecision::int8;
  o.sparse_threshold = 1.0;
  fastbert::export_fbm(ckpt, out / "fbm_loader_fuzz/dense_int8.fbm", o);
  o.sparse_threshold = 0.5;
  fastbert::export_fbm(ckpt, out / "fbm_loader_fuzz/sparse_int8.fbm", o);
  fs::copy_file(ckpt / "model.safetensors", out / "safetensors_fuzz/model.safetensors",
                fs::copy_options::overwrite_existing);
  fs::copy_file(ckpt / "quantization.json", out / "quantization_json_fuzz/quantization.json",
                fs::copy_options::overwrite_existing);
  fs::remove_all(ckpt);

  fastbert::write_squad_features(out / "squad_features_fuzz/plain.h5", small_features(false));
  fastbert::write_squad_features(out / "squad_features_fuzz/teacher.h5", small_features(true));
  fastbert::SquadLogits l;
  l.max_seq = 8;
  for (int i = 0; i < 24; ++i) {
    l.start_logits.push_back(0.25f * i);
    l.end_logits.push_back(-0.25f * i);
  }
  fastbert::write_squad_logits(out / "squad_logits_fuzz/logits.h5", l);
  fastbert::write_file_atomic(
      out / "squad_json_fuzz/squad.json",
      R"({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "Denver won the game in Santa Clara.",
          "qas": [{"id": "q1", "question": "Who won?", "answers": [{"text": "Denver", "answer_start": 0}]},
                  {"id": "q2", "question": "Where?", "answers": [{"text": "Santa Clara", "answer_start": 23}]}]}]}]})");
  return 0;
}
