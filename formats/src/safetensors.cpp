#include "fastbert/formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/common/input_file.h"

namespace fastbert {
namespace {

using json = nlohmann::json;

struct DTypeInfo {
  SafetensorsDType dtype;
  std::string_view name;
  std::size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {SafetensorsDType::F64, "F64", 8},   {SafetensorsDType::F32, "F32", 4}, {SafetensorsDType::F16, "F16", 2},
    {SafetensorsDType::BF16, "BF16", 2}, {SafetensorsDType::I64, "I64", 8}, {SafetensorsDType::I32, "I32", 4},
    {SafetensorsDType::I16, "I16", 2},   {SafetensorsDType::I8, "I8", 1},   {SafetensorsDType::U8, "U8", 1},
    {SafetensorsDType::BOOL, "BOOL", 1},
};

const DTypeInfo& info(SafetensorsDType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d;
  throw Error("invalid safetensors dtype value");
}

// Header sizes beyond this are either damage or an attack; the reference
// implementation uses the same 100 MB limit.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

uint64_t read_u64_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& where) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(where + ": negative dimension in shape");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw Error(where + ": shape has more than 2^63 elements");
    n *= d;
  }
  return n;
}

struct Entry {
  std::string name;
  SafetensorsDType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": header entry is not an object");
  for (const auto& [key, value] : j.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      throw Error(where + ": unknown key '" + key + "' in header entry");
  Entry e;
  e.name = name;
  if (!j.contains("dtype") || !j["dtype"].is_string()) throw Error(where + ": missing or non-string 'dtype'");
  try {
    e.dtype = parse_safetensors_dtype(j["dtype"].get<std::string>());
  } catch (const Error& err) {
    throw Error(where + ": " + err.what());
  }
  if (!j.contains("shape") || !j["shape"].is_array()) throw Error(where + ": missing or non-array 'shape'");
  for (const auto& d : j["shape"]) {
    if (!d.is_number_integer()) throw Error(where + ": shape contains a non-integer " + d.dump());
    e.shape.push_back(d.get<int64_t>());
  }
  const auto& off = j.contains("data_offsets") ? j["data_offsets"] : json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    throw Error(where + ": 'data_offsets' must be two non-negative integers [begin, end]");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin)
    throw Error(where + ": data_offsets end " + std::to_string(e.end) + " < begin " + std::to_string(e.begin));
  const uint64_t numel = static_cast<uint64_t>(checked_numel(e.shape, where));
  // The byte count can wrap where the element count does not (2^62 F32
  // elements are 2^64 bytes, "0"): a wrapped size would pass the check below.
  uint64_t want = 0;
  if (__builtin_mul_overflow(numel, dtype_size(e.dtype), &want))
    throw Error(where + ": shape " + j["shape"].dump() + " of dtype " + std::string(dtype_name(e.dtype)) +
                " needs more than 2^64 bytes");
  if (e.end - e.begin != want)
    throw Error(where + ": holds " + std::to_string(e.end - e.begin) + " bytes but dtype " +
                std::string(dtype_name(e.dtype)) + " x shape needs " + std::to_string(want));
  return e;
}

}  // namespace

std::size_t dtype_size(SafetensorsDType dtype) { return info(dtype).size; }
std::string_view dtype_name(SafetensorsDType dtype) { return info(dtype).name; }

SafetensorsDType parse_safetensors_dtype(std::string_view name) {
  for (const auto& d : kDTypes)
    if (d.name == name) return d.dtype;
  throw Error("unknown safetensors dtype '" + std::string(name) + "'");
}

int64_t SafetensorsTensor::numel() const { return checked_numel(shape, "tensor '" + name + "'"); }

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void SafetensorsFile::add(SafetensorsTensor tensor) {
  if (tensor.name.empty() || tensor.name == "__metadata__")
    throw Error("invalid safetensors tensor name '" + tensor.name + "'");
  if (find(tensor.name)) throw Error("duplicate safetensors tensor '" + tensor.name + "'");
  const uint64_t want = static_cast<uint64_t>(tensor.numel()) * dtype_size(tensor.dtype);
  if (tensor.data.size() != want)
    throw Error("tensor '" + tensor.name + "' has " + std::to_string(tensor.data.size()) +
                " bytes, its dtype and shape need " + std::to_string(want));
  tensors.push_back(std::move(tensor));
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8)
    throw Error(source + ": not a safetensors file: " + std::to_string(bytes.size()) +
                " bytes, shorter than the 8-byte header length");
  const uint64_t header_len = read_u64_le(bytes.data());
  if (header_len > kMaxHeaderBytes)
    throw Error(source + ": safetensors header length " + std::to_string(header_len) + " is implausibly large");
  if (header_len > bytes.size() - 8)
    throw Error(source + ": safetensors header length " + std::to_string(header_len) +
                " runs past the end of the file (" + std::to_string(bytes.size()) + " bytes; truncated?)");
  json header;
  try {
    header = json::parse(bytes.substr(8, header_len));
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double's range
    throw Error(source + ": safetensors header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw Error(source + ": safetensors header is not a JSON object");

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) throw Error(source + ": '__metadata__' is not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) throw Error(source + ": '__metadata__' value of '" + mk + "' is not a string");
        file.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, source + ": tensor '" + key + "'"));
  }

  // The data section must be tiled exactly: no tensor may overlap another and
  // no byte may be unaccounted for (the reference reader enforces the same).
  const uint64_t data_len = bytes.size() - 8 - header_len;
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  for (const Entry* e : by_offset) {
    if (e->end > data_len)
      throw Error(source + ": tensor '" + e->name + "' data_offsets [" + std::to_string(e->begin) + ", " +
                  std::to_string(e->end) + ") lie outside the data section of " + std::to_string(data_len) +
                  " bytes (truncated file?)");
    if (e->begin < cursor)
      throw Error(source + ": tensor '" + e->name + "' overlaps the previous tensor (begins at byte " +
                  std::to_string(e->begin) + ", previous ends at " + std::to_string(cursor) + ")");
    if (e->begin > cursor)
      throw Error(source + ": gap of " + std::to_string(e->begin - cursor) + " unused bytes before tensor '" + e->name +
                  "'");
    cursor = e->end;
  }
  if (cursor != data_len)
    throw Error(source + ": " + std::to_string(data_len - cursor) +
                " trailing bytes after the last tensor (data section does not match the header)");

  const char* data = bytes.data() + 8 + header_len;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (auto& e : entries) {
    SafetensorsTensor t;
    t.name = std::move(e.name);
    t.dtype = e.dtype;
    t.shape = std::move(e.shape);
    t.data.assign(data + e.begin, e.end - e.begin);
    file.tensors.push_back(std::move(t));
  }
  return file;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  require_regular_file(path, "safetensors file");
  const std::string bytes = read_file(path);
  return parse_safetensors(bytes, path.string());
}

std::string serialize_safetensors(const SafetensorsFile& file) {
  json header = json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto& t : file.tensors) {
    const uint64_t want = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype);
    if (t.data.size() != want)
      throw Error("tensor '" + t.name + "' has " + std::to_string(t.data.size()) + " bytes, its dtype and shape need " +
                  std::to_string(want));
    header[t.name] = {
        {"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + want}}};
    offset += want;
  }
  std::string text = header.dump();
  // Padding the header to 8 bytes keeps every tensor 8-byte aligned for
  // readers that map the file (the reference writer does the same).
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += text;
  for (const auto& t : file.tensors) out += t.data;
  return out;
}

void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
  write_file_atomic(path, serialize_safetensors(file));
}

}  // namespace fastbert
