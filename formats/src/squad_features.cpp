#include "fastbert/formats/squad_features.h"

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/formats/hdf5.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFeaturesFormat = "fastbert-squad-features";
constexpr const char* kLogitsFormat = "fastbert-logits";
constexpr int64_t kFeaturesVersion = 1;

void expect_size(const char* name, size_t actual, int64_t expected) {
  if (static_cast<int64_t>(actual) != expected)
    throw Error(std::string("squad features: '") + name + "' has " + std::to_string(actual) + " values, expected " +
                std::to_string(expected));
}

void check_format(const hdf5::File& file, const char* expected) {
  if (!file.has_attribute("format"))
    throw Error(file.path().string() + ": not a " + expected + " file (no 'format' attribute)");
  const std::string format = file.string_attribute("format");
  if (format != expected)
    throw Error(file.path().string() + ": format is '" + format + "', expected '" + expected + "'");
}

}  // namespace

void SquadFeatures::validate() const {
  if (max_seq <= 0) throw Error("squad features: max_seq must be positive, got " + std::to_string(max_seq));
  const int64_t n = num_windows();
  const int64_t cells = n * max_seq;
  expect_size("input_ids", input_ids.size(), cells);
  expect_size("token_type_ids", token_type_ids.size(), cells);
  expect_size("attention_mask", attention_mask.size(), cells);
  expect_size("end_positions", end_positions.size(), n);
  expect_size("offsets", offsets.size(), cells * 2);
  expect_size("example_index", example_index.size(), n);
  const int64_t e = static_cast<int64_t>(example_ids.size());
  for (int64_t i = 0; i < n; ++i) {
    if (example_index[i] < 0 || example_index[i] >= e)
      throw Error("squad features: example_index[" + std::to_string(i) + "] = " + std::to_string(example_index[i]) +
                  " is outside the " + std::to_string(e) + " example ids");
    if (start_positions[i] < 0 || start_positions[i] >= max_seq || end_positions[i] < 0 || end_positions[i] >= max_seq)
      throw Error("squad features: answer position of window " + std::to_string(i) + " is outside [0, max_seq)");
  }
  if (!teacher_start_logits.empty() || !teacher_end_logits.empty()) {
    expect_size("teacher_start_logits", teacher_start_logits.size(), cells);
    expect_size("teacher_end_logits", teacher_end_logits.size(), cells);
  }
}

void write_squad_features(const fs::path& path, const SquadFeatures& f) {
  f.validate();
  AtomicPath out(path);
  {
    hdf5::File file = hdf5::File::create(out.temp_path());
    const int64_t n = f.num_windows(), s = f.max_seq;
    file.set_attribute("format", std::string(kFeaturesFormat));
    file.set_attribute("version", kFeaturesVersion);
    file.set_attribute("max_seq", f.max_seq);
    file.set_attribute("doc_stride", f.doc_stride);
    file.set_attribute("max_query", f.max_query);
    file.set_attribute("tokenizer", f.tokenizer);
    file.write("input_ids", f.input_ids, {n, s});
    file.write("token_type_ids", f.token_type_ids, {n, s});
    file.write("attention_mask", f.attention_mask, {n, s});
    file.write("start_positions", f.start_positions, {n});
    file.write("end_positions", f.end_positions, {n});
    file.write("offsets", f.offsets, {n, s, 2});
    file.write("example_index", f.example_index, {n});
    file.write_strings("example_ids", f.example_ids);
    if (!f.teacher_start_logits.empty()) {
      file.write("teacher_start_logits", f.teacher_start_logits, {n, s});
      file.write("teacher_end_logits", f.teacher_end_logits, {n, s});
    }
    file.close();
  }
  out.commit();
}

SquadFeatures read_squad_features(const fs::path& path) {
  hdf5::File file = hdf5::File::open(path);
  check_format(file, kFeaturesFormat);
  const int64_t version = file.int_attribute("version");
  if (version != kFeaturesVersion)
    throw Error(path.string() + ": features version " + std::to_string(version) + " is not supported (expected " +
                std::to_string(kFeaturesVersion) + ")");
  SquadFeatures f;
  f.max_seq = file.int_attribute("max_seq");
  f.doc_stride = file.int_attribute("doc_stride");
  f.max_query = file.int_attribute("max_query");
  f.tokenizer = file.string_attribute("tokenizer");
  if (f.max_seq <= 0) throw Error(path.string() + ": attribute 'max_seq' must be positive");

  std::vector<int64_t> shape;
  f.start_positions = file.read<int32_t>("start_positions", {-1}, &shape);
  const int64_t n = shape[0], s = f.max_seq;
  f.end_positions = file.read<int32_t>("end_positions", {n});
  f.input_ids = file.read<int32_t>("input_ids", {n, s});
  f.token_type_ids = file.read<int32_t>("token_type_ids", {n, s});
  f.attention_mask = file.read<int32_t>("attention_mask", {n, s});
  f.offsets = file.read<int32_t>("offsets", {n, s, 2});
  f.example_index = file.read<int32_t>("example_index", {n});
  f.example_ids = file.read_strings("example_ids");
  const bool has_start = file.has_dataset("teacher_start_logits");
  const bool has_end = file.has_dataset("teacher_end_logits");
  if (has_start != has_end)
    throw Error(path.string() + ": teacher logits need both 'teacher_start_logits' and 'teacher_end_logits'");
  if (has_start) {
    f.teacher_start_logits = file.read<float>("teacher_start_logits", {n, s});
    f.teacher_end_logits = file.read<float>("teacher_end_logits", {n, s});
  }
  try {
    f.validate();
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  return f;
}

void write_squad_logits(const fs::path& path, const SquadLogits& logits) {
  if (logits.max_seq <= 0) throw Error("squad logits: max_seq must be positive");
  if (logits.start_logits.size() != logits.end_logits.size() ||
      logits.start_logits.size() % static_cast<size_t>(logits.max_seq) != 0)
    throw Error("squad logits: start/end logits must both hold windows x max_seq values");
  AtomicPath out(path);
  {
    hdf5::File file = hdf5::File::create(out.temp_path());
    const int64_t n = logits.num_windows();
    file.set_attribute("format", std::string(kLogitsFormat));
    file.set_attribute("max_seq", logits.max_seq);
    file.write("start_logits", logits.start_logits, {n, logits.max_seq});
    file.write("end_logits", logits.end_logits, {n, logits.max_seq});
    file.close();
  }
  out.commit();
}

SquadLogits read_squad_logits(const fs::path& path) {
  hdf5::File file = hdf5::File::open(path);
  check_format(file, kLogitsFormat);
  SquadLogits logits;
  std::vector<int64_t> shape;
  logits.start_logits = file.read<float>("start_logits", {-1, -1}, &shape);
  logits.max_seq = shape[1];
  logits.end_logits = file.read<float>("end_logits", {shape[0], shape[1]});
  if (file.has_attribute("max_seq") && file.int_attribute("max_seq") != logits.max_seq)
    throw Error(path.string() + ": attribute 'max_seq' disagrees with the logits' second dimension");
  if (logits.max_seq <= 0) throw Error(path.string() + ": logits have an empty sequence dimension");
  return logits;
}

}  // namespace fastbert
