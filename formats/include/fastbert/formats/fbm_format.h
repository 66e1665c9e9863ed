#pragma once
// The packed model file (.fbm): an HDF5 file whose datasets are contiguous,
// uncompressed and 64-byte aligned so that the runtime maps it and uses the
// arrays in place. The layout is documented in docs/fbm-format.md; this
// header holds the names both the writer (export/) and the reader share.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace fastbert::fbm {

inline constexpr const char* kFormatName = "fastbert-model";
// A reader accepts every minor version of its major version: minor versions
// only add optional datasets. Major 2 added the file header.
inline constexpr uint32_t kVersionMajor = 2;
inline constexpr uint32_t kVersionMinor = 0;
inline constexpr int64_t kAlignment = 64;

// The file starts with a header of kHeaderBytes (an HDF5 user block, which
// libhdf5 skips) holding the format's magic, version, the file size and a
// CRC-32 of everything after the header's own checksum fields. It is checked
// on the raw bytes before libhdf5 parses anything: libhdf5 1.10 reads some
// corrupt object headers out of bounds (tests/fuzz/regressions), so a damaged
// file must never reach it. Layout (little-endian):
//   [0, 8)   magic "\x89FBM\r\n\x1a\n"
//   [8, 12)  version major     [12, 16) version minor
//   [16, 24) file size in bytes
//   [24, 28) CRC-32 of bytes [32, file size)
//   [28, 32) CRC-32 of bytes [0, 28)
//   [32, kHeaderBytes) zero
inline constexpr int64_t kHeaderBytes = 512;
inline constexpr char kMagic[8] = {'\x89', 'F', 'B', 'M', '\r', '\n', '\x1a', '\n'};

struct FileHeader {
  uint32_t version_major = 0;
  uint32_t version_minor = 0;
  uint64_t file_bytes = 0;
};

// CRC-32 (zlib's polynomial), continued from `crc` (0 to start).
uint32_t checksum_update(uint32_t crc, const void* data, size_t bytes);

// Validates the header and the whole-file checksum of the `size` bytes of a
// file; throws fastbert::Error naming `source` for a foreign file, a file of
// another major version, a truncated or extended file, or a checksum mismatch.
FileHeader check_file(const unsigned char* bytes, size_t size, const std::string& source);

// Writes the header of this version into the first kHeaderBytes of `path` (an
// HDF5 file created with that user block), covering the file as it is now.
void stamp_file(const std::filesystem::path& path);

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
