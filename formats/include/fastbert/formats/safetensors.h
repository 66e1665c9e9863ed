#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fastbert {

// The Hugging Face safetensors format: an 8-byte little-endian header length N,
// N bytes of JSON ({"name": {"dtype", "shape", "data_offsets"}, "__metadata__":
// {string: string}}), then the raw little-endian tensor bytes. Plain C++ so the
// runtime side (export) can read what the training side writes.
enum class SafetensorsDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::size_t dtype_size(SafetensorsDType dtype);
std::string_view dtype_name(SafetensorsDType dtype);
// Throws fastbert::Error for a name that is not a safetensors dtype.
SafetensorsDType parse_safetensors_dtype(std::string_view name);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  std::vector<int64_t> shape;
  std::string data;  // raw little-endian bytes, dtype_size(dtype) * numel(shape) of them

  int64_t numel() const;
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsTensor> tensors;  // in file order

  const SafetensorsTensor* find(std::string_view name) const;
  void add(SafetensorsTensor tensor);  // throws on a duplicate name or a size/shape mismatch
};

// Parses a whole file held in memory. `source` names it in error messages.
// Every kind of damage is a fastbert::Error: a header length beyond the file,
// invalid JSON, an unknown dtype, a negative or non-integer shape, offsets
// outside the data, overlapping tensors, gaps between tensors, and a byte count
// that does not match dtype x shape.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source);
SafetensorsFile read_safetensors(const std::filesystem::path& path);

std::string serialize_safetensors(const SafetensorsFile& file);
// Atomic: the file appears under `path` only when complete.
void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file);

}  // namespace fastbert
