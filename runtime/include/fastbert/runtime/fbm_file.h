#pragma once
// Reading a .fbm file: validated once at open (format name, version, every
// dataset listed in the manifest present, inside the file and covered by the
// checksum), then mapped read-only so the arrays are used in place.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/formats/hdf5.h"
#include "fastbert/formats/tokenizer_spec.h"
#include "fastbert/formats/fbm_format.h"

namespace fastbert::fbm {

template <class T>
struct ArrayView {
  const T* data = nullptr;
  std::vector<int64_t> shape;
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

class FbmFile {
 public:
  // Throws fastbert::Error naming the file for anything it cannot use: not
  // HDF5, another format, a newer major version, a truncated file, a missing
  // dataset or a bad checksum.
  static std::unique_ptr<FbmFile> open(const std::filesystem::path& path);
  ~FbmFile();
  FbmFile(const FbmFile&) = delete;
  FbmFile& operator=(const FbmFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const ModelConfig& config() const { return config_; }
  int64_t version_minor() const { return version_minor_; }
  // The manifest's tokenizer (its vocabulary or model is a dataset).
  const TokenizerSpec& tokenizer_spec() const { return tokenizer_spec_; }
  // The format of linear `name` of `layer` (see kLayerLinears).
  LinearFormat linear_format(int64_t layer, const std::string& name) const;

  bool has(const std::string& name) const { return datasets_.count(name) > 0; }
  // A typed view into the mapping; the dtype must be T and the shape must
  // match `pattern` (-1 = any extent), otherwise fastbert::Error.
  template <class T>
  ArrayView<T> array(const std::string& name, const hdf5::ShapePattern& pattern) const {
    const Dataset& d = checked(name, hdf5::DTypeOf<T>::value, pattern);
    return {reinterpret_cast<const T*>(d.data), d.info.shape};
  }

 private:
  struct Dataset {
    hdf5::DatasetInfo info;
    const unsigned char* data = nullptr;  // into the mapping; null when empty
  };
  FbmFile() = default;
  const Dataset& checked(const std::string& name, hdf5::DType dtype, const hdf5::ShapePattern& pattern) const;

  std::filesystem::path path_;
  ModelConfig config_;
  int64_t version_minor_ = 0;
  TokenizerSpec tokenizer_spec_;
  std::map<std::string, LinearFormat> linear_formats_;
  std::map<std::string, Dataset> datasets_;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
};

}  // namespace fastbert::fbm
