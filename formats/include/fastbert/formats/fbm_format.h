#pragma once
// The packed model file (.fbm): an HDF5 file whose datasets are contiguous,
// uncompressed and 64-byte aligned so that the runtime maps it and uses the
// arrays in place. The layout is documented in docs/fbm-format.md; this
// header holds the names both the writer (export/) and the reader share.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fastbert/formats/file_header.h"

namespace fastbert::fbm {

inline constexpr const char* kFormatName = "fastbert-model";
// A reader accepts every minor version of its major version: minor versions
// only add optional datasets. Major 2 added the file header.
inline constexpr uint32_t kVersionMajor = 2;
inline constexpr uint32_t kVersionMinor = 0;
inline constexpr int64_t kAlignment = 64;

// The file starts with the header every fastbert HDF5 file carries
// (fastbert/formats/file_header.h), checked on the raw bytes before libhdf5
// parses anything.
inline constexpr int64_t kHeaderBytes = file_header::kBytes;
inline constexpr file_header::Kind kFileKind{
    {'\x89', 'F', 'B', 'M', '\r', '\n', '\x1a', '\n'}, kVersionMajor, kVersionMinor, ".fbm model", "export it again"};

// Writes the header into the first kHeaderBytes of `path` (an HDF5 file
// created with that user block), covering the file as it is now.
inline void stamp_file(const std::filesystem::path& path) { file_header::stamp(path, kFileKind); }

// Root attributes (for h5dump readers; the header is what the loader trusts).
inline constexpr const char* kAttrFormat = "format";
inline constexpr const char* kAttrManifest = "manifest";   // JSON, see docs/fbm-format.md

enum class LinearFormat { dense_fp32, dense_int8, sparse_4x1_int8 };
const char* linear_format_name(LinearFormat format);
// Throws fastbert::Error naming `source` for an unknown name.
LinearFormat parse_linear_format(const std::string& name, const std::string& source);

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position = 0;
  int64_t type_vocab_size = 0;
  double layer_norm_eps = 1e-12;

  int64_t head_dim() const { return num_heads > 0 ? hidden_size / num_heads : 0; }
  // Throws fastbert::Error naming `source` and the first bad value.
  void validate(const std::string& source) const;
};

// The linear layers of one encoder layer, in execution order. Their datasets
// live under "encoder/layer_<i>/<name>/".
inline constexpr const char* kLayerLinears[] = {"query", "key", "value", "attention_output", "intermediate", "output"};
inline constexpr int kLinearsPerLayer = 6;

std::string layer_prefix(int64_t layer);                               // "encoder/layer_3/"
std::string linear_prefix(int64_t layer, const std::string& linear);  // "encoder/layer_3/query/"

}  // namespace fastbert::fbm
