#include "fastbert/formats/file_header.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/common/input_file.h"
#include "fastbert/formats/hdf5.h"

namespace fastbert::file_header {
namespace fs = std::filesystem;

uint32_t crc32_update(uint32_t crc, const void* data, size_t bytes) {
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

// Field offsets (file_header.h).
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

// Everything but the content checksum: `head` holds the first
// min(size, kBytes) bytes of a file of `size` bytes.
Header check_head(const unsigned char* head, size_t head_bytes, uint64_t size, const Kind& kind,
                  const std::string& source) {
  const std::string name = kind.name;
  if (head_bytes >= sizeof(hdf5::kSignature) && std::memcmp(head, hdf5::kSignature, sizeof(hdf5::kSignature)) == 0)
    throw Error(source + ": an HDF5 file without the " + name + " header: written by an older fastbert, or not a " +
                name + "; " + kind.remedy);
  if (size == 0) throw Error(source + ": not a " + name + " (the file is empty)");
  if (head_bytes < sizeof(kind.magic) || std::memcmp(head, kind.magic, sizeof(kind.magic)) != 0) {
    // Every kind's magic is "\x89FB" + one letter + "\r\n\x1a\n".
    const bool other_kind = head_bytes >= sizeof(kind.magic) && std::memcmp(head, kind.magic, 3) == 0 &&
                            std::memcmp(head + 4, kind.magic + 4, 4) == 0;
    throw Error(source + ": not a " + name +
                (other_kind ? " (another kind of fastbert file: a model, tokenized data or logits?)"
                            : " (no " + name + " header at the start)"));
  }
  if (size < static_cast<uint64_t>(kBytes))
    throw Error(source + ": truncated " + name + ": " + std::to_string(size) + " bytes, shorter than its header");
  if (load_le<uint32_t>(head + kHeaderCrcAt) != crc32_update(0, head, kHeaderCrcAt))
    throw Error(source + ": damaged " + name + " header (its checksum does not match)");
  Header h;
  h.version_major = load_le<uint32_t>(head + kVersionMajorAt);
  h.version_minor = load_le<uint32_t>(head + kVersionMinorAt);
  h.file_bytes = load_le<uint64_t>(head + kFileBytesAt);
  if (h.version_major != kind.version_major)
    throw Error(source + ": " + name + " format version " + std::to_string(h.version_major) + "." +
                std::to_string(h.version_minor) +
                (h.version_major > kind.version_major ? " was written by a newer fastbert"
                                                      : std::string(" is too old; ") + kind.remedy) +
                "; this build reads " + std::to_string(kind.version_major) + ".x");
  if (h.file_bytes > size)
    throw Error(source + ": truncated " + name + ": " + std::to_string(size) + " of " + std::to_string(h.file_bytes) +
                " bytes");
  if (h.file_bytes < size)
    throw Error(source + ": damaged " + name + ": " + std::to_string(size - h.file_bytes) + " bytes after its end");
  return h;
}

[[noreturn]] void checksum_mismatch(uint32_t stored, uint32_t computed, const std::string& source) {
  throw Error(source + ": checksum mismatch (stored " + std::to_string(stored) + ", computed " +
              std::to_string(computed) + "): the file is damaged");
}

}  // namespace

Header check(const unsigned char* bytes, size_t size, const Kind& kind, const std::string& source) {
  const Header h = check_head(bytes, std::min<size_t>(size, kBytes), size, kind, source);
  const uint32_t stored = load_le<uint32_t>(bytes + kContentCrcAt);
  const uint32_t computed = crc32_update(0, bytes + kContentFrom, size - kContentFrom);
  if (stored != computed) checksum_mismatch(stored, computed, source);
  return h;
}

Header check_file(const fs::path& path, const Kind& kind) {
  const std::string src = path.string();
  require_regular_file(path, kind.name);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(src + ": cannot open the " + std::string(kind.name) + " for reading");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  unsigned char head[kBytes] = {};
  in.read(reinterpret_cast<char*>(head), kBytes);
  const Header h = check_head(head, static_cast<size_t>(in.gcount()), size, kind, src);
  uint32_t crc = crc32_update(0, head + kContentFrom, kBytes - kContentFrom);
  std::vector<char> buffer(1 << 20);
  uint64_t read = kBytes;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc = crc32_update(crc, buffer.data(), static_cast<size_t>(in.gcount()));
    read += static_cast<uint64_t>(in.gcount());
  }
  if (read != size) throw Error(src + ": the " + std::string(kind.name) + " changed or could not be read to its end");
  const uint32_t stored = load_le<uint32_t>(head + kContentCrcAt);
  if (stored != crc) checksum_mismatch(stored, crc, src);
  return h;
}

void stamp(const fs::path& path, const Kind& kind) {
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!io) throw Error(path.string() + ": cannot open to write the " + kind.name + " header");
  io.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(io.tellg());
  if (size < static_cast<uint64_t>(kBytes))
    throw Error(path.string() + ": shorter than the " + kind.name + " header; was it created with the user block?");
  unsigned char header[kBytes] = {};
  std::memcpy(header, kind.magic, sizeof(kind.magic));
  store_le<uint32_t>(header + kVersionMajorAt, kind.version_major);
  store_le<uint32_t>(header + kVersionMinorAt, kind.version_minor);
  store_le<uint64_t>(header + kFileBytesAt, size);
  // The content checksum starts at byte 32, which the zero padding of the
  // header belongs to; read the rest of the file in pieces.
  uint32_t crc = crc32_update(0, header + kContentFrom, kBytes - kContentFrom);
  io.seekg(kBytes);
  std::vector<char> buffer(1 << 20);
  while (io) {
    io.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc = crc32_update(crc, buffer.data(), static_cast<size_t>(io.gcount()));
  }
  io.clear();
  store_le<uint32_t>(header + kContentCrcAt, crc);
  store_le<uint32_t>(header + kHeaderCrcAt, crc32_update(0, header, kHeaderCrcAt));
  io.seekp(0);
  io.write(reinterpret_cast<const char*>(header), kBytes);
  io.flush();
  if (!io) throw Error(path.string() + ": cannot write the " + kind.name + " header (disk full?)");
}

}  // namespace fastbert::file_header
