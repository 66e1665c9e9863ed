#pragma once
// The header every fastbert HDF5 file starts with (.fbm models, tokenized
// data, logits): 512 bytes that HDF5 sees as a user block and skips, so h5py
// and h5dump open the file as usual. Readers check it on the raw bytes before
// libhdf5 parses anything, because libhdf5 1.10 reads some corrupt object
// headers and global heaps out of bounds (tests/fuzz/regressions): a damaged
// or truncated file never reaches it. Little-endian layout:
//   [0, 8)   magic of the file's kind, e.g. "\x89FBM\r\n\x1a\n"
//   [8, 12)  version major     [12, 16) version minor
//   [16, 24) file size in bytes
//   [24, 28) CRC-32 (zlib) of bytes [32, file size)
//   [28, 32) CRC-32 of bytes [0, 28)
//   [32, 512) zero
// A checksum catches accidents, not intent (anyone can recompute it), so
// readers still validate every size and index behind it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace fastbert::file_header {

inline constexpr int64_t kBytes = 512;

// One kind of file: its magic, the version this build writes and reads (any
// minor version of the major), and the words its messages use.
struct Kind {
  char magic[8];
  uint32_t version_major;
  uint32_t version_minor;
  const char* name;      // ".fbm model", "tokenized-data file"
  const char* remedy;    // what to do with an old file: "export it again"
};

struct Header {
  uint32_t version_major = 0;
  uint32_t version_minor = 0;
  uint64_t file_bytes = 0;
};

// CRC-32 (zlib's polynomial), continued from `crc` (0 to start).
uint32_t crc32_update(uint32_t crc, const void* data, size_t bytes);

// Validates the header and the whole-file checksum of a file held in memory
// (`size` bytes); throws fastbert::Error naming `source` for a foreign file, a
// headerless HDF5 file (an older fastbert's), another major version, a
// truncated or extended file, or a checksum mismatch.
Header check(const unsigned char* bytes, size_t size, const Kind& kind, const std::string& source);

// The same for a file on disk, read in pieces (the file need not fit in memory).
Header check_file(const std::filesystem::path& path, const Kind& kind);

// Writes the header of `kind` into the first kBytes of `path` (an HDF5 file
// created with that user block, see hdf5::FileOptions), covering the file as
// it is now.
void stamp(const std::filesystem::path& path, const Kind& kind);

}  // namespace fastbert::file_header
