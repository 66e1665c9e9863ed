#include "fastbert/formats/fbm_format.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/formats/hdf5.h"

namespace fastbert::fbm {

uint32_t checksum_update(uint32_t crc, const void* data, size_t bytes) {
  const auto* p = static_cast<const Bytef*>(data);
  // zlib takes uInt lengths: feed huge arrays in pieces.
  while (bytes > 0) {
    const uInt n = static_cast<uInt>(std::min<size_t>(bytes, 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, p, n));
    p += n;
    bytes -= n;
  }
  return crc;
}

namespace {

// Field offsets of the header (fbm_format.h).
constexpr size_t kVersionMajorAt = 8, kVersionMinorAt = 12, kFileBytesAt = 16, kContentCrcAt = 24, kHeaderCrcAt = 28,
                 kContentFrom = 32;

template <class T>
T load_le(const unsigned char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}
template <class T>
void store_le(unsigned char* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

FileHeader check_file(const unsigned char* bytes, size_t size, const std::string& source) {
  if (size >= sizeof(hdf5::kSignature) && std::memcmp(bytes, hdf5::kSignature, sizeof(hdf5::kSignature)) == 0)
    throw Error(source + ": an HDF5 file without the .fbm header: written by fastbert before format 2, or not a "
                         "model; export it again");
  if (size < sizeof(kMagic) || std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0)
    throw Error(source + ": not a .fbm model (no fastbert-model header at the start)");
  if (size < static_cast<size_t>(kHeaderBytes))
    throw Error(source + ": truncated .fbm model: " + std::to_string(size) + " bytes, shorter than its header");
  if (load_le<uint32_t>(bytes + kHeaderCrcAt) != checksum_update(0, bytes, kHeaderCrcAt))
    throw Error(source + ": damaged .fbm header (its checksum does not match)");
  FileHeader h;
  h.version_major = load_le<uint32_t>(bytes + kVersionMajorAt);
  h.version_minor = load_le<uint32_t>(bytes + kVersionMinorAt);
  h.file_bytes = load_le<uint64_t>(bytes + kFileBytesAt);
  if (h.version_major != kVersionMajor)
    throw Error(source + ": .fbm format version " + std::to_string(h.version_major) + "." +
                std::to_string(h.version_minor) +
                (h.version_major > kVersionMajor ? " was written by a newer fastbert" : " is too old") +
                "; this build reads " + std::to_string(kVersionMajor) + ".x");
  if (h.file_bytes > size)
    throw Error(source + ": truncated .fbm model: " + std::to_string(size) + " of " + std::to_string(h.file_bytes) +
                " bytes");
  if (h.file_bytes < size)
    throw Error(source + ": damaged .fbm model: " + std::to_string(size - h.file_bytes) +
                " bytes after the end of the model");
  const uint32_t stored = load_le<uint32_t>(bytes + kContentCrcAt);
  const uint32_t computed = checksum_update(0, bytes + kContentFrom, size - kContentFrom);
  if (stored != computed)
    throw Error(source + ": checksum mismatch (stored " + std::to_string(stored) + ", computed " +
                std::to_string(computed) + "): the file is damaged");
  return h;
}

void stamp_file(const std::filesystem::path& path) {
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!io) throw Error(path.string() + ": cannot open to write the .fbm header");
  io.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(io.tellg());
  if (size < static_cast<uint64_t>(kHeaderBytes))
    throw Error(path.string() + ": shorter than the .fbm header; was it created with the user block?");
  unsigned char header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, sizeof(kMagic));
  store_le<uint32_t>(header + kVersionMajorAt, kVersionMajor);
  store_le<uint32_t>(header + kVersionMinorAt, kVersionMinor);
  store_le<uint64_t>(header + kFileBytesAt, size);
  // The content checksum starts at byte 32, which the zero padding of the
  // header belongs to; read the rest of the file in pieces.
  uint32_t crc = checksum_update(0, header + kContentFrom, kHeaderBytes - kContentFrom);
  io.seekg(kHeaderBytes);
  std::vector<char> buffer(1 << 20);
  while (io) {
    io.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc = checksum_update(crc, buffer.data(), static_cast<size_t>(io.gcount()));
  }
  io.clear();
  store_le<uint32_t>(header + kContentCrcAt, crc);
  store_le<uint32_t>(header + kHeaderCrcAt, checksum_update(0, header, kHeaderCrcAt));
  io.seekp(0);
  io.write(reinterpret_cast<const char*>(header), kHeaderBytes);
  io.flush();
  if (!io) throw Error(path.string() + ": cannot write the .fbm header (disk full?)");
}

const char* linear_format_name(LinearFormat format) {
  switch (format) {
    case LinearFormat::dense_fp32: return "dense_fp32";
    case LinearFormat::dense_int8: return "dense_int8";
    case LinearFormat::sparse_4x1_int8: return "sparse_4x1_int8";
  }
  return "unknown";
}

LinearFormat parse_linear_format(const std::string& name, const std::string& source) {
  for (LinearFormat f : {LinearFormat::dense_fp32, LinearFormat::dense_int8, LinearFormat::sparse_4x1_int8})
    if (name == linear_format_name(f)) return f;
  throw Error(source + ": unknown linear format '" + name + "' (expected dense_fp32, dense_int8 or sparse_4x1_int8)");
}

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](int64_t v, const char* key) {
    if (v <= 0) throw Error(source + ": config '" + key + "' must be positive, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(num_heads, "num_heads");
  positive(intermediate_size, "intermediate_size");
  positive(max_position, "max_position");
  positive(type_vocab_size, "type_vocab_size");
  if (num_layers < 0) throw Error(source + ": config 'num_layers' must be >= 0");
  if (hidden_size % num_heads != 0)
    throw Error(source + ": config hidden_size " + std::to_string(hidden_size) + " is not a multiple of num_heads " +
                std::to_string(num_heads));
  if (!(layer_norm_eps > 0)) throw Error(source + ": config 'layer_norm_eps' must be positive");
}

std::string layer_prefix(int64_t layer) { return "encoder/layer_" + std::to_string(layer) + "/"; }
std::string linear_prefix(int64_t layer, const std::string& linear) { return layer_prefix(layer) + linear + "/"; }

}  // namespace fastbert::fbm
