#pragma once
// Writes the datasets of a .fbm file (contiguous, 64-byte aligned) after the
// room for its header, which finish() stamps once the HDF5 file is closed.
#include <filesystem>
#include <string>
#include <vector>

#include "fastbert/formats/hdf5.h"
#include "fastbert/formats/fbm_format.h"

namespace fastbert {

class FbmWriter {
 public:
  explicit FbmWriter(const std::filesystem::path& path);

  template <class T>
  int64_t write(const std::string& name, const std::vector<T>& data, const std::vector<int64_t>& shape) {
    file_.write(name, data, shape);
    names_.push_back(name);
    return static_cast<int64_t>(data.size() * sizeof(T));
  }

  // Stores the manifest (with the dataset list added), closes, and stamps the header.
  void finish(std::string manifest_json_without_datasets);

 private:
  std::filesystem::path path_;
  hdf5::File file_;
  std::vector<std::string> names_;
};

}  // namespace fastbert
