#include "fuzz_support.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "fastbert/common/error.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace fastbert::fuzz {
namespace fs = std::filesystem;

fs::path input_file(const uint8_t* data, size_t size, const std::string& name) {
  const fs::path path = fs::temp_directory_path() / ("fastbert-fuzz-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

namespace {

struct Region {
  uint64_t offset, bytes;
};

herr_t collect(hid_t root, const char* name, const H5O_info_t* info, void* out) {
  if (info->type != H5O_TYPE_DATASET) return 0;
  auto* regions = static_cast<std::vector<Region>*>(out);
  const hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
  if (ds < 0) return 0;
  const haddr_t contiguous = H5Dget_offset(ds);
  if (contiguous != HADDR_UNDEF) {
    regions->push_back({contiguous, H5Dget_storage_size(ds)});
  } else {
    const hid_t space = H5Dget_space(ds);
    hsize_t chunks = 0;
    H5Dget_num_chunks(ds, space, &chunks);
    for (hsize_t i = 0; i < chunks; ++i) {
      hsize_t coords[8] = {};
      unsigned filter_mask = 0;
      haddr_t addr = HADDR_UNDEF;
      hsize_t bytes = 0;
      if (H5Dget_chunk_info(ds, space, i, coords, &filter_mask, &addr, &bytes) >= 0 && addr != HADDR_UNDEF)
        regions->push_back({addr, bytes});
    }
    H5Sclose(space);
  }
  H5Dclose(ds);
  return 0;
}

std::vector<Region> data_regions(const uint8_t* data, size_t size) {
  const fs::path path = input_file(data, size, "mutator.h5");
  std::vector<Region> regions;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, collect, &regions);
    H5Fclose(f);
  }
  std::vector<Region> inside;
  for (const Region& r : regions)
    if (r.bytes > 0 && r.offset >= static_cast<uint64_t>(file_header::kBytes) && r.offset <= size &&
        r.bytes <= size - r.offset)
      inside.push_back(r);
  return inside;
}

}  // namespace

size_t mutate_hdf5_file(uint8_t* data, size_t size, size_t max_size, unsigned seed, const file_header::Kind& kind) {
  bool consistent = size >= static_cast<size_t>(file_header::kBytes) && std::memcmp(data, kind.magic, 8) == 0;
  if (consistent) {
    try {
      file_header::check(data, size, kind, "input");
    } catch (const Error&) {
      consistent = false;
    }
  }
  std::mt19937 rng(seed);
  if (!consistent || rng() % 8 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const std::vector<Region> regions = data_regions(data, size);
  if (regions.empty()) return LLVMFuzzerMutate(data, size, max_size);
  const Region& r = regions[rng() % regions.size()];
  // Values that find size and index bugs, or libFuzzer's own byte mutations.
  static const int64_t kInteresting[] = {0, -1, 1, 255, 256, INT32_MAX, INT32_MIN, int64_t{1} << 62, INT64_MAX,
                                         INT64_MIN};
  if (rng() % 2 == 0 && r.bytes >= 8) {
    const uint64_t at = r.offset + (rng() % (r.bytes / 4)) * 4;
    const int64_t v = kInteresting[rng() % (sizeof(kInteresting) / sizeof(kInteresting[0]))];
    const size_t width = at + 8 <= r.offset + r.bytes && rng() % 2 ? 8 : 4;
    std::memcpy(data + at, &v, width);
    if (rng() % 4 == 0) {
      const uint32_t nan = 0x7fc00000u;
      std::memcpy(data + at, &nan, 4);
    }
  } else {
    const size_t piece = std::min<uint64_t>(r.bytes, 64);
    const uint64_t at = r.offset + rng() % (r.bytes - piece + 1);
    LLVMFuzzerMutate(data + at, piece, piece);
  }
  // Re-stamp in memory: the header covers the file as it is now.
  const fs::path path = input_file(data, size, "stamp.h5");
  file_header::stamp(path, kind);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(data), file_header::kBytes);
  return size;
}

}  // namespace fastbert::fuzz
