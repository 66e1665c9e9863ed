#pragma once
// Writes the datasets of a .fbm file (contiguous, 64-byte aligned) while
// accumulating the checksum the reader verifies (fbm::checksum_update order).
#include <filesystem>
#include <string>
#include <vector>

#include "fastbert/formats/hdf5.h"
#include "fastbert/runtime/fbm_file.h"

namespace fastbert {

class FbmWriter {
 public:
  explicit FbmWriter(const std::filesystem::path& path);

  template <class T>
  int64_t write(const std::string& name, const std::vector<T>& data, const std::vector<int64_t>& shape) {
    file_.write(name, data, shape);
    crc_ = fbm::checksum_update(crc_, name.data(), name.size());
    crc_ = fbm::checksum_update(crc_, data.data(), data.size() * sizeof(T));
    names_.push_back(name);
    return static_cast<int64_t>(data.size() * sizeof(T));
  }

  // Stores the manifest (with the dataset list added), version and checksum, and closes.
  void finish(std::string manifest_json_without_datasets);

 private:
  hdf5::File file_;
  std::vector<std::string> names_;
  uint32_t crc_ = 0;
};

}  // namespace fastbert
