#pragma once
// `fastbert export`: a training checkpoint -> one packed .fbm file.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fastbert/formats/fbm_format.h"

namespace fastbert {

enum class ExportPrecision {
  automatic,  // int8 when the checkpoint has quantization.json, fp32 otherwise
  fp32,
  int8,
};
ExportPrecision parse_export_precision(const std::string& name);

struct ExportOptions {
  ExportPrecision precision = ExportPrecision::automatic;
  // int8 linears whose fraction of all-zero 4x1 blocks is at least this are
  // packed block-sparse, the others stay dense int8. The runtime runs
  // dense_int8 on the same SpMM kernel with every block kept, so time falls
  // with every block skipped; the threshold only keeps nearly dense layers
  // dense, where the sparse arrays (2 bytes per kept weight with the column
  // indices, against 1) would grow the file for next to no speed. Global
  // pruning leaves layers anywhere from 40 % to 95 % sparse (MiniLM's query
  // and key layers sit near 50 %): all of them run faster sparse.
  double sparse_threshold = 0.05;
  // int8 without quantization.json: calibrate the activation ranges (min-max)
  // with the runtime on this data (features .h5 or SQuAD .json) instead of
  // refusing. quantization.json, when present, always wins.
  std::filesystem::path calibration_data;
  int64_t calibration_windows = 64;
};

struct ExportedLinear {
  std::string name;  // "encoder/layer_0/query"
  int64_t out_features = 0, in_features = 0;
  double block_sparsity = 0;  // fraction of all-zero 4x1 blocks in the checkpoint weights
  fbm::LinearFormat format = fbm::LinearFormat::dense_fp32;
  int64_t bytes = 0;  // of its arrays in the file
};

struct ExportSummary {
  ExportPrecision precision = ExportPrecision::fp32;
  std::vector<ExportedLinear> linears;
  int64_t file_bytes = 0;
  int64_t checkpoint_bytes = 0;  // model.safetensors
  bool calibrated = false;       // activation ranges measured by the export itself
};

// Reads the checkpoint (export/checkpoint_reader.h), writes `out` atomically.
// int8 needs quantization.json (activation scales from calibration) or
// calibration_data: without either, fastbert::Error says so rather than
// guessing ranges.
ExportSummary export_fbm(const std::filesystem::path& checkpoint_dir, const std::filesystem::path& out,
                         const ExportOptions& options = {});

// The per-layer table and the size comparison `fastbert export` prints.
std::string format_export_summary(const ExportSummary& summary);

// Fraction of all-zero 4x1 blocks (4 consecutive rows of one column) of a
// row-major rows x cols matrix; a last partial group counts its real rows.
double block_sparsity_4x1(const float* w, int64_t rows, int64_t cols);

}  // namespace fastbert
