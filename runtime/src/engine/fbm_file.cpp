#include "fastbert/runtime/fbm_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

#include "fastbert/common/error.h"
#include "fastbert/common/input_file.h"

namespace fastbert::fbm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

size_t element_size(hdf5::DType t) {
  switch (t) {
    case hdf5::DType::kInt8:
    case hdf5::DType::kUInt8: return 1;
    case hdf5::DType::kInt32:
    case hdf5::DType::kFloat32: return 4;
    case hdf5::DType::kInt64:
    case hdf5::DType::kFloat64: return 8;
    default: return 0;
  }
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + (shape[i] < 0 ? std::string("*") : std::to_string(shape[i]));
  return s + "]";
}

// A NaN or infinite weight, bias, scale or LayerNorm parameter would turn
// every answer into NaN (or a quantized input into garbage) without an error:
// refuse it at load, naming the dataset (and so the layer).
template <class T>
void require_finite(const unsigned char* data, uint64_t n, const std::string& src, const std::string& name) {
  for (uint64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    if (!std::isfinite(v))
      throw Error(src + ": dataset '" + name + "' holds " + (std::isnan(v) ? "NaN" : "an infinite value") +
                  " at index " + std::to_string(i) + "; every weight, bias and scale must be finite");
  }
}

}  // namespace

FbmFile::~FbmFile() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
}

std::unique_ptr<FbmFile> FbmFile::open(const fs::path& path) {
  const std::string src = path.string();
  require_regular_file(path, "model file");
  std::unique_ptr<FbmFile> f(new FbmFile());
  f->path_ = path;

  // Map and check the raw bytes (header, size, whole-file checksum) before
  // libhdf5 reads anything.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(src + ": cannot open for reading");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(src + ": cannot read the file's size");
  }
  f->mapping_bytes_ = static_cast<size_t>(st.st_size);
  void* map = f->mapping_bytes_ ? ::mmap(nullptr, f->mapping_bytes_, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (f->mapping_bytes_ == 0) throw Error(src + ": not a .fbm model (the file is empty)");
  if (map == MAP_FAILED) throw Error(src + ": cannot map the file into memory");
  f->mapping_ = map;
  const auto* bytes = static_cast<const unsigned char*>(map);
  f->version_minor_ = file_header::check(bytes, f->mapping_bytes_, kFileKind, src).version_minor;

  hdf5::File h5 = hdf5::File::open(path);
  if (!h5.has_attribute(kAttrFormat) || h5.string_attribute(kAttrFormat) != kFormatName)
    throw Error(src + ": not a .fbm model (the root attribute 'format' is not '" + kFormatName + "')");
  if (!h5.has_attribute(kAttrManifest)) throw Error(src + ": damaged .fbm model: root attribute 'manifest' is missing");
  const std::string manifest_text = h5.string_attribute(kAttrManifest);

  json m;
  std::string key = "manifest";
  std::vector<std::string> names;
  try {
    m = json::parse(manifest_text);
    key = "config";
    const json& c = m.at("config");
    ModelConfig& cfg = f->config_;
    cfg.vocab_size = c.at("vocab_size").get<int64_t>();
    cfg.hidden_size = c.at("hidden_size").get<int64_t>();
    cfg.num_layers = c.at("num_layers").get<int64_t>();
    cfg.num_heads = c.at("num_heads").get<int64_t>();
    cfg.intermediate_size = c.at("intermediate_size").get<int64_t>();
    cfg.max_position = c.at("max_position").get<int64_t>();
    cfg.type_vocab_size = c.at("type_vocab_size").get<int64_t>();
    cfg.layer_norm_eps = c.at("layer_norm_eps").get<double>();
    key = "tokenizer";
    f->tokenizer_spec_ = tokenizer_spec_from_json(m.at("tokenizer").dump(), src);
    key = "linears";
    for (const auto& [name, fmt] : m.at("linears").items())
      f->linear_formats_[name] = parse_linear_format(fmt.get<std::string>(), src + ": manifest 'linears." + name + "'");
    key = "datasets";
    names = m.at("datasets").get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw Error(src + ": damaged .fbm manifest: key '" + key + "' missing or of the wrong type (" + e.what() + ")");
  }
  f->config_.validate(src);

  for (const std::string& name : names) {
    if (!h5.has_dataset(name)) throw Error(src + ": damaged .fbm model: dataset '" + name + "' is missing");
    Dataset d;
    d.info = h5.dataset_info(name);
    const size_t es = element_size(d.info.dtype);
    if (es == 0) throw Error(src + ": dataset '" + name + "' has an unsupported type " + hdf5::dtype_name(d.info.dtype));
    // Extents come from the file: multiply with overflow checks, and compare
    // against the file size without forming offset + bytes.
    uint64_t n = 1;
    for (int64_t dim : d.info.shape) {
      if (dim < 0 || (dim > 0 && n > f->mapping_bytes_ / static_cast<uint64_t>(dim)))
        throw Error(src + ": dataset '" + name + "' has a shape larger than the file");
      n *= static_cast<uint64_t>(dim);
    }
    if (n > f->mapping_bytes_ / es)
      throw Error(src + ": truncated .fbm model: dataset '" + name + "' is larger than the file");
    const size_t bytes_needed = static_cast<size_t>(n) * es;
    if (n > 0) {
      const int64_t offset = h5.dataset_offset(name);
      if (offset < kHeaderBytes || static_cast<uint64_t>(offset) > f->mapping_bytes_ - bytes_needed)
        throw Error(src + ": damaged .fbm model: dataset '" + name + "' lies outside the file's data");
      d.data = bytes + offset;
      if (d.info.dtype == hdf5::DType::kFloat32) require_finite<float>(d.data, n, src, name);
      if (d.info.dtype == hdf5::DType::kFloat64) require_finite<double>(d.data, n, src, name);
    }
    f->datasets_.emplace(name, std::move(d));
  }
  return f;
}

LinearFormat FbmFile::linear_format(int64_t layer, const std::string& name) const {
  std::string key = linear_prefix(layer, name);
  key.pop_back();
  auto it = linear_formats_.find(key);
  if (it == linear_formats_.end()) throw Error(path_.string() + ": manifest has no format for linear '" + key + "'");
  return it->second;
}

const FbmFile::Dataset& FbmFile::checked(const std::string& name, hdf5::DType dtype,
                                         const hdf5::ShapePattern& pattern) const {
  auto it = datasets_.find(name);
  if (it == datasets_.end()) throw Error(path_.string() + ": dataset '" + name + "' is missing");
  const Dataset& d = it->second;
  if (d.info.dtype != dtype)
    throw Error(path_.string() + ": dataset '" + name + "' has type " + hdf5::dtype_name(d.info.dtype) + ", expected " +
                hdf5::dtype_name(dtype));
  bool ok = d.info.shape.size() == pattern.size();
  for (size_t i = 0; ok && i < pattern.size(); ++i) ok = pattern[i] < 0 || pattern[i] == d.info.shape[i];
  if (!ok)
    throw Error(path_.string() + ": dataset '" + name + "' has shape " + shape_string(d.info.shape) + ", expected " +
                shape_string(pattern));
  return d;
}

}  // namespace fastbert::fbm
