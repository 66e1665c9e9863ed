// Writes small valid .fbm files (fp32, dense int8, sparse int8) into a
// directory: the seed corpus of fbm_loader_fuzz.
#include <filesystem>
#include <iostream>

#include "fastbert/export/fbm_export.h"
#include "tiny_bert.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 2) {
    std::cerr << "usage: make_fbm_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out);
  fastbert::testing::TinyBertSpec spec;
  spec.hidden = 16;
  spec.heads = 2;
  spec.intermediate = 32;
  spec.layers = 1;
  spec.max_position = 16;
  spec.block_sparsity = 0.8;
  fastbert::testing::TinyBert model(spec);
  const fs::path ckpt = out / "ckpt.tmp";
  model.write_checkpoint(ckpt);
  model.write_quantization(ckpt, model.random_windows(2, 8, 1));
  fastbert::ExportOptions o;
  o.precision = fastbert::ExportPrecision::fp32;
  fastbert::export_fbm(ckpt, out / "fp32.fbm", o);
  o.precision = fastbert::ExportPrecision::int8;
  o.sparse_threshold = 1.0;
  fastbert::export_fbm(ckpt, out / "dense_int8.fbm", o);
  o.sparse_threshold = 0.5;
  fastbert::export_fbm(ckpt, out / "sparse_int8.fbm", o);
  fs::remove_all(ckpt);
  return 0;
}
