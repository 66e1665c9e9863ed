#include "fastbert/formats/squad_features.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/formats/file_header.h"
#include "fastbert/formats/hdf5.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

// For h5dump readers; the header is what readers trust.
constexpr const char* kFeaturesFormat = "fastbert-squad-features";
constexpr const char* kLogitsFormat = "fastbert-logits";

const hdf5::Layout kWindowChunks{SquadFeatures::kWindowsPerChunk};

[[noreturn]] void fail(const std::string& what) { throw Error("squad features: " + what); }

void expect_size(const char* name, size_t actual, int64_t expected) {
  if (static_cast<int64_t>(actual) != expected)
    fail(std::string("'") + name + "' has " + std::to_string(actual) + " values, expected " + std::to_string(expected));
}

// "input_ids[window 3, token 17]": cell i of a block whose first window is `first`.
std::string cell(const char* name, int64_t i, int64_t s, int64_t first = 0) {
  return std::string(name) + "[window " + std::to_string(first + i / s) + ", token " + std::to_string(i % s) + "]";
}

void require_finite(const std::string& source, const char* name, const std::vector<float>& v, int64_t s,
                    int64_t first = 0) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw Error(source + ": " + cell(name, static_cast<int64_t>(i), s, first) + " is " + std::to_string(v[i]) +
                  ", expected a finite number");
}

hdf5::File create_with_header(const fs::path& path) {
  hdf5::FileOptions options;
  options.user_block_bytes = file_header::kBytes;
  return hdf5::File::create(path, options);
}

// Reads the question ids: one byte array and E+1 offsets into it, checked
// before any string is formed.
std::vector<std::string> read_ids(const hdf5::File& file) {
  const std::vector<uint8_t> bytes = file.read<uint8_t>("example_id_bytes", {-1});
  std::vector<int64_t> shape;
  const std::vector<int64_t> offsets = file.read<int64_t>("example_id_offsets", {-1}, &shape);
  const std::string src = file.path().string();
  if (offsets.empty() || offsets.front() != 0)
    throw Error(src + ": dataset 'example_id_offsets' must start with 0");
  if (offsets.back() != static_cast<int64_t>(bytes.size()))
    throw Error(src + ": dataset 'example_id_offsets' ends at " + std::to_string(offsets.back()) + ", but " +
                "'example_id_bytes' holds " + std::to_string(bytes.size()) + " bytes");
  for (size_t e = 0; e + 1 < offsets.size(); ++e)
    if (offsets[e + 1] < offsets[e])
      throw Error(src + ": dataset 'example_id_offsets' decreases at " + std::to_string(e + 1) + " (" +
                  std::to_string(offsets[e]) + " then " + std::to_string(offsets[e + 1]) + ")");
  // Non-decreasing from 0 to bytes.size(): every id lies inside the bytes.
  std::vector<std::string> ids;
  ids.reserve(offsets.size() - 1);
  for (size_t e = 0; e + 1 < offsets.size(); ++e)
    ids.emplace_back(reinterpret_cast<const char*>(bytes.data()) + offsets[e],
                     static_cast<size_t>(offsets[e + 1] - offsets[e]));
  return ids;
}

void check_limits(const SquadFeatures& f, const ModelLimits& limits, const std::string& src, int64_t first = 0) {
  const std::string remedy = "; the file was prepared for another model: re-run fastbert prepare with this model's tokenizer";
  if (limits.max_position > 0 && f.max_seq > limits.max_position)
    throw Error(src + ": windows of max_seq " + std::to_string(f.max_seq) + " tokens are longer than the model's " +
                std::to_string(limits.max_position) + " positions" + remedy);
  for (size_t i = 0; i < f.input_ids.size(); ++i) {
    if (limits.vocab_size > 0 && f.input_ids[i] >= limits.vocab_size)
      throw Error(src + ": " + cell("input_ids", static_cast<int64_t>(i), f.max_seq, first) + " is " +
                  std::to_string(f.input_ids[i]) + ", not below the model's vocab_size " +
                  std::to_string(limits.vocab_size) + remedy);
    if (limits.type_vocab_size > 0 && f.token_type_ids[i] >= limits.type_vocab_size)
      throw Error(src + ": " + cell("token_type_ids", static_cast<int64_t>(i), f.max_seq, first) + " is " +
                  std::to_string(f.token_type_ids[i]) + ", not below the model's type_vocab_size " +
                  std::to_string(limits.type_vocab_size) + remedy);
  }
}

// The file's attributes (max_seq checked), with every array still empty.
SquadFeatures read_attributes(const hdf5::File& file) {
  SquadFeatures f;
  f.max_seq = file.int_attribute("max_seq");
  f.doc_stride = file.int_attribute("doc_stride");
  f.max_query = file.int_attribute("max_query");
  f.tokenizer = file.string_attribute("tokenizer");
  if (f.max_seq <= 0)
    throw Error(file.path().string() + ": attribute 'max_seq' must be positive, got " + std::to_string(f.max_seq));
  return f;
}

}  // namespace

void SquadFeatures::validate(int64_t first_window, int64_t num_examples) const {
  if (max_seq <= 0) fail("max_seq must be positive, got " + std::to_string(max_seq));
  const int64_t n = num_windows();
  int64_t cells = 0;
  if (__builtin_mul_overflow(n, max_seq, &cells) || cells > (int64_t{1} << 40))
    fail(std::to_string(n) + " windows of max_seq " + std::to_string(max_seq) + " are too many tokens");
  expect_size("input_ids", input_ids.size(), cells);
  expect_size("token_type_ids", token_type_ids.size(), cells);
  expect_size("attention_mask", attention_mask.size(), cells);
  expect_size("end_positions", end_positions.size(), n);
  expect_size("offsets", offsets.size(), cells * 2);
  expect_size("example_index", example_index.size(), n);
  const int64_t e = num_examples >= 0 ? num_examples : static_cast<int64_t>(example_ids.size());
  const auto at = [&](const char* name, int64_t i) { return cell(name, i, max_seq, first_window); };
  const auto window = [&](int64_t i) { return std::to_string(first_window + i); };
  for (int64_t i = 0; i < n; ++i) {
    if (example_index[i] < 0 || example_index[i] >= e)
      fail("example_index[" + window(i) + "] = " + std::to_string(example_index[i]) + " is outside the " +
           std::to_string(e) + " example ids");
    if (start_positions[i] < 0 || start_positions[i] >= max_seq || end_positions[i] < 0 || end_positions[i] >= max_seq)
      fail("answer position of window " + window(i) + " (" + std::to_string(start_positions[i]) + ".." +
           std::to_string(end_positions[i]) + ") is outside [0, max_seq " + std::to_string(max_seq) + ")");
  }
  for (int64_t i = 0; i < cells; ++i) {
    if (input_ids[i] < 0) fail(at("input_ids", i) + " is negative (" + std::to_string(input_ids[i]) + ")");
    if (token_type_ids[i] < 0)
      fail(at("token_type_ids", i) + " is negative (" + std::to_string(token_type_ids[i]) + ")");
    if (attention_mask[i] != 0 && attention_mask[i] != 1)
      fail(at("attention_mask", i) + " is " + std::to_string(attention_mask[i]) + ", expected 0 or 1");
    const int32_t b = offsets[2 * i], en = offsets[2 * i + 1];
    if (!(b == -1 && en == -1) && !(b >= 0 && b <= en))
      fail(at("offsets", i) + " is [" + std::to_string(b) + ", " + std::to_string(en) +
           "), expected -1,-1 or 0 <= begin <= end");
  }
  if (!teacher_start_logits.empty() || !teacher_end_logits.empty()) {
    expect_size("teacher_start_logits", teacher_start_logits.size(), cells);
    expect_size("teacher_end_logits", teacher_end_logits.size(), cells);
    require_finite("squad features", "teacher_start_logits", teacher_start_logits, max_seq, first_window);
    require_finite("squad features", "teacher_end_logits", teacher_end_logits, max_seq, first_window);
  }
}

struct SquadFeaturesWriter::State {
  explicit State(const fs::path& path) : out(path), file(create_with_header(out.temp_path())) {}
  AtomicPath out;
  hdf5::File file;
  bool started = false;
  SquadFeatures first;  // the metadata of the first block; its arrays stay empty
  bool teacher_logits = false;
  int64_t windows = 0;
  int64_t chunk_rows = 0;
  std::vector<uint8_t> id_bytes;
  std::vector<int64_t> id_offsets{0};
};

SquadFeaturesWriter::SquadFeaturesWriter(const fs::path& path) : state_(std::make_unique<State>(path)) {}
SquadFeaturesWriter::~SquadFeaturesWriter() = default;

int64_t SquadFeaturesWriter::num_windows() const { return state_->windows; }
int64_t SquadFeaturesWriter::num_examples() const { return static_cast<int64_t>(state_->id_offsets.size()) - 1; }

void SquadFeaturesWriter::append(const SquadFeatures& b) {
  if (!state_) fail("append after finish");
  b.validate();
  State& st = *state_;
  const bool logits = !b.teacher_start_logits.empty();
  if (!st.started) {
    st.started = true;
    st.first.max_seq = b.max_seq;
    st.first.doc_stride = b.doc_stride;
    st.first.max_query = b.max_query;
    st.first.tokenizer = b.tokenizer;
    st.teacher_logits = logits;
    st.file.set_attribute("format", std::string(kFeaturesFormat));
    st.file.set_attribute("max_seq", b.max_seq);
    st.file.set_attribute("doc_stride", b.doc_stride);
    st.file.set_attribute("max_query", b.max_query);
    st.file.set_attribute("tokenizer", b.tokenizer);
  } else if (b.max_seq != st.first.max_seq || b.doc_stride != st.first.doc_stride ||
             b.max_query != st.first.max_query || b.tokenizer != st.first.tokenizer || logits != st.teacher_logits) {
    fail("a block of windows differs from the first in max_seq, doc_stride, max_query, tokenizer or teacher logits");
  }
  const int64_t n = b.num_windows(), s = b.max_seq, base = num_examples();
  // Chunks of kWindowsPerChunk windows, or fewer for a file that is one small
  // block: HDF5 allocates whole chunks.
  if (st.chunk_rows == 0) st.chunk_rows = std::clamp<int64_t>(n, 1, kWindowChunks.chunk_rows);
  const int64_t rows = st.chunk_rows;
  if (base + static_cast<int64_t>(b.example_ids.size()) > INT32_MAX) fail("more than 2^31 questions");
  std::vector<int32_t> example_index(b.example_index);
  for (int32_t& e : example_index) e += static_cast<int32_t>(base);
  hdf5::File& file = st.file;
  file.append_rows("input_ids", b.input_ids.data(), n, {s}, rows);
  file.append_rows("token_type_ids", b.token_type_ids.data(), n, {s}, rows);
  file.append_rows("attention_mask", b.attention_mask.data(), n, {s}, rows);
  file.append_rows("start_positions", b.start_positions.data(), n, {}, rows);
  file.append_rows("end_positions", b.end_positions.data(), n, {}, rows);
  file.append_rows("offsets", b.offsets.data(), n, {s, 2}, rows);
  file.append_rows("example_index", example_index.data(), n, {}, rows);
  if (logits) {
    file.append_rows("teacher_start_logits", b.teacher_start_logits.data(), n, {s}, rows);
    file.append_rows("teacher_end_logits", b.teacher_end_logits.data(), n, {s}, rows);
  }
  for (const std::string& id : b.example_ids) {
    st.id_bytes.insert(st.id_bytes.end(), id.begin(), id.end());
    st.id_offsets.push_back(static_cast<int64_t>(st.id_bytes.size()));
  }
  st.windows += n;
}

void SquadFeaturesWriter::finish() {
  if (!state_) fail("finish called twice");
  State& st = *state_;
  if (!st.started) fail("no block of windows was appended");
  st.file.write("example_id_bytes", st.id_bytes, {static_cast<int64_t>(st.id_bytes.size())});
  st.file.write("example_id_offsets", st.id_offsets, {static_cast<int64_t>(st.id_offsets.size())});
  st.file.close();
  file_header::stamp(st.out.temp_path(), kSquadFeaturesFileKind);
  st.out.commit();
  state_.reset();
}

void write_squad_features(const fs::path& path, const SquadFeatures& f) {
  SquadFeaturesWriter writer(path);
  writer.append(f);
  writer.finish();
}

SquadFeatures read_squad_features(const fs::path& path, const ModelLimits& limits) {
  const std::string src = path.string();
  file_header::check_file(path, kSquadFeaturesFileKind);
  hdf5::File file = hdf5::File::open(path);
  SquadFeatures f = read_attributes(file);

  std::vector<int64_t> shape;
  f.start_positions = file.read<int32_t>("start_positions", {-1}, &shape);
  const int64_t n = shape[0], s = f.max_seq;
  f.end_positions = file.read<int32_t>("end_positions", {n});
  f.input_ids = file.read<int32_t>("input_ids", {n, s});
  f.token_type_ids = file.read<int32_t>("token_type_ids", {n, s});
  f.attention_mask = file.read<int32_t>("attention_mask", {n, s});
  f.offsets = file.read<int32_t>("offsets", {n, s, 2});
  f.example_index = file.read<int32_t>("example_index", {n});
  f.example_ids = read_ids(file);
  const bool has_start = file.has_dataset("teacher_start_logits");
  const bool has_end = file.has_dataset("teacher_end_logits");
  if (has_start != has_end)
    throw Error(src + ": teacher logits need both 'teacher_start_logits' and 'teacher_end_logits'");
  if (has_start) {
    f.teacher_start_logits = file.read<float>("teacher_start_logits", {n, s});
    f.teacher_end_logits = file.read<float>("teacher_end_logits", {n, s});
  }
  try {
    f.validate();
  } catch (const Error& e) {
    throw Error(src + ": " + e.what());
  }
  check_limits(f, limits, src);
  return f;
}

SquadFeaturesReader::SquadFeaturesReader(std::unique_ptr<hdf5::File> file) : file_(std::move(file)) {}
SquadFeaturesReader::~SquadFeaturesReader() = default;
SquadFeaturesReader::SquadFeaturesReader(SquadFeaturesReader&&) noexcept = default;
SquadFeaturesReader& SquadFeaturesReader::operator=(SquadFeaturesReader&&) noexcept = default;

SquadFeaturesReader SquadFeaturesReader::open(const fs::path& path, const ModelLimits& limits) {
  const std::string src = path.string();
  file_header::check_file(path, kSquadFeaturesFileKind);
  SquadFeaturesReader r(std::make_unique<hdf5::File>(hdf5::File::open(path)));
  const hdf5::File& file = *r.file_;
  r.attributes_ = read_attributes(file);
  std::vector<int64_t> shape;
  r.start_positions_ = file.read<int32_t>("start_positions", {-1}, &shape);
  const int64_t n = shape[0], s = r.attributes_.max_seq;
  r.end_positions_ = file.read<int32_t>("end_positions", {n});
  r.num_examples_ = static_cast<int64_t>(read_ids(file).size());
  const bool has_start = file.has_dataset("teacher_start_logits");
  if (has_start != file.has_dataset("teacher_end_logits"))
    throw Error(src + ": teacher logits need both 'teacher_start_logits' and 'teacher_end_logits'");
  r.teacher_logits_ = has_start;

  // The whole file is checked as read_squad_features checks it, a block at a
  // time, so that a damaged window is refused before training, not at its batch.
  const std::vector<int32_t> example_index = file.read<int32_t>("example_index", {n});
  r.real_tokens_.resize(static_cast<std::size_t>(n));
  const int64_t block = 2 * SquadFeatures::kWindowsPerChunk;
  for (int64_t begin = 0; begin == 0 || begin < n; begin += block) {  // once for an empty file too
    const int64_t count = std::min(block, n - begin);
    SquadFeatures b;
    b.max_seq = s;
    b.input_ids = file.read_row_range<int32_t>("input_ids", {n, s}, begin, count);
    b.token_type_ids = file.read_row_range<int32_t>("token_type_ids", {n, s}, begin, count);
    b.attention_mask = file.read_row_range<int32_t>("attention_mask", {n, s}, begin, count);
    b.offsets = file.read_row_range<int32_t>("offsets", {n, s, 2}, begin, count);
    b.start_positions.assign(r.start_positions_.begin() + begin, r.start_positions_.begin() + begin + count);
    b.end_positions.assign(r.end_positions_.begin() + begin, r.end_positions_.begin() + begin + count);
    b.example_index.assign(example_index.begin() + begin, example_index.begin() + begin + count);
    if (r.teacher_logits_) {
      b.teacher_start_logits = file.read_row_range<float>("teacher_start_logits", {n, s}, begin, count);
      b.teacher_end_logits = file.read_row_range<float>("teacher_end_logits", {n, s}, begin, count);
    }
    try {
      b.validate(begin, r.num_examples_);
    } catch (const Error& e) {
      throw Error(src + ": " + e.what());
    }
    check_limits(b, limits, src, begin);
    for (int64_t w = 0; w < count; ++w)
      r.real_tokens_[begin + w] =
          std::accumulate(b.attention_mask.begin() + w * s, b.attention_mask.begin() + (w + 1) * s, 0);
  }
  return r;
}

SquadFeatures SquadFeaturesReader::read(const std::vector<int64_t>& rows) const {
  const int64_t n = num_windows(), s = attributes_.max_seq;
  SquadFeatures b = attributes_;
  const auto cells = rows.size() * static_cast<std::size_t>(s);
  b.input_ids.resize(cells);
  b.token_type_ids.resize(cells);
  b.attention_mask.resize(cells);
  file_->read_rows<int32_t>("input_ids", {n, s}, rows, b.input_ids.data());
  file_->read_rows<int32_t>("token_type_ids", {n, s}, rows, b.token_type_ids.data());
  file_->read_rows<int32_t>("attention_mask", {n, s}, rows, b.attention_mask.data());
  for (int64_t r : rows) {
    b.start_positions.push_back(start_positions_[r]);
    b.end_positions.push_back(end_positions_[r]);
  }
  if (teacher_logits_) {
    b.teacher_start_logits.resize(cells);
    b.teacher_end_logits.resize(cells);
    file_->read_rows<float>("teacher_start_logits", {n, s}, rows, b.teacher_start_logits.data());
    file_->read_rows<float>("teacher_end_logits", {n, s}, rows, b.teacher_end_logits.data());
  }
  return b;
}

void write_squad_logits(const fs::path& path, const SquadLogits& logits) {
  if (logits.max_seq <= 0) throw Error("squad logits: max_seq must be positive");
  if (logits.start_logits.size() != logits.end_logits.size() ||
      logits.start_logits.size() % static_cast<size_t>(logits.max_seq) != 0)
    throw Error("squad logits: start/end logits must both hold windows x max_seq values");
  AtomicPath out(path);
  {
    hdf5::File file = create_with_header(out.temp_path());
    const int64_t n = logits.num_windows();
    file.set_attribute("format", std::string(kLogitsFormat));
    file.write("start_logits", logits.start_logits, {n, logits.max_seq}, kWindowChunks);
    file.write("end_logits", logits.end_logits, {n, logits.max_seq}, kWindowChunks);
    file.close();
  }
  file_header::stamp(out.temp_path(), kSquadLogitsFileKind);
  out.commit();
}

SquadLogits read_squad_logits(const fs::path& path) {
  const std::string src = path.string();
  file_header::check_file(path, kSquadLogitsFileKind);
  hdf5::File file = hdf5::File::open(path);
  SquadLogits logits;
  std::vector<int64_t> shape;
  logits.start_logits = file.read<float>("start_logits", {-1, -1}, &shape);
  logits.max_seq = shape[1];
  if (logits.max_seq <= 0) throw Error(src + ": logits have an empty sequence dimension");
  logits.end_logits = file.read<float>("end_logits", {shape[0], shape[1]});
  require_finite(src, "start_logits", logits.start_logits, logits.max_seq);
  require_finite(src, "end_logits", logits.end_logits, logits.max_seq);
  return logits;
}

}  // namespace fastbert
