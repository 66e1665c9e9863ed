#pragma once
// A small RAII layer over the HDF5 C API: the subset fastbert's files need
// (typed datasets, contiguous or chunked by rows, scalar attributes) with
// every failure turned into a fastbert::Error that names the file and the
// dataset. HDF5's own error-stack printing is switched off; its innermost
// message is appended to ours instead.
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fastbert::hdf5 {

// Owns one hid_t and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

enum class DType { kInt8, kUInt8, kInt32, kInt64, kFloat32, kFloat64, kString, kOther };
std::string dtype_name(DType t);

template <class T>
struct DTypeOf;
template <>
struct DTypeOf<int8_t> {
  static constexpr DType value = DType::kInt8;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::kUInt8;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::kInt32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kInt64;
};
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kFloat32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kFloat64;
};

struct DatasetInfo {
  DType dtype = DType::kOther;
  std::vector<int64_t> shape;
  int64_t num_elements() const;
};

struct FileOptions {
  // When > 0, every object of at least `alignment_threshold` bytes starts at a
  // multiple of `alignment` in the file (H5Pset_alignment), so that raw data
  // can be memory-mapped and used in place by SIMD code.
  int64_t alignment = 0;
  int64_t alignment_threshold = 0;
  // When > 0 (a power of two >= 512), the file starts with this many bytes
  // that HDF5 leaves to the application (H5Pset_userblock).
  int64_t user_block_bytes = 0;
};

// How a dataset is stored. Contiguous (the default) keeps the raw data in one
// piece at a known offset, for mapping. Chunked by rows lets a reader read a
// range of rows (a batch of windows) without reading the whole dataset.
struct Layout {
  int64_t chunk_rows = 0;  // 0 = contiguous; else rows of the first dimension per chunk
};

// Shape pattern for reads: -1 accepts any extent in that dimension.
using ShapePattern = std::vector<int64_t>;

class File {
 public:
  // Creates (truncating) a file for writing.
  static File create(const std::filesystem::path& path, const FileOptions& options = {});
  // Opens an existing file read-only; a missing, foreign or truncated file throws.
  static File open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }

  bool has_dataset(const std::string& name) const;
  DatasetInfo dataset_info(const std::string& name) const;
  // Byte offset of a contiguous dataset's raw data in the file (for mapping).
  int64_t dataset_offset(const std::string& name) const;

  template <class T>
  void write(const std::string& name, const std::vector<T>& data, const std::vector<int64_t>& shape,
             const Layout& layout = {}) {
    write_raw(name, DTypeOf<T>::value, data.data(), static_cast<int64_t>(data.size()), shape, layout);
  }
  template <class T>
  void write(const std::string& name, const T* data, const std::vector<int64_t>& shape, const Layout& layout = {}) {
    write_raw(name, DTypeOf<T>::value, data, -1, shape, layout);
  }
  // Appends rows to a dataset that grows along its first dimension, creating
  // it (chunked by `chunk_rows`, unlimited rows) on the first call: `data`
  // holds `rows` rows of shape `row_shape`. Lets a writer stream a dataset
  // larger than it wants to hold; later calls must give the same row shape.
  template <class T>
  void append_rows(const std::string& name, const T* data, int64_t rows, const std::vector<int64_t>& row_shape,
                   int64_t chunk_rows) {
    append_raw(name, DTypeOf<T>::value, data, rows, row_shape, chunk_rows);
  }
  // Reads a dataset that must have exactly type T and a shape matching
  // `pattern`; the actual shape is stored in *shape when given.
  template <class T>
  std::vector<T> read(const std::string& name, const ShapePattern& pattern,
                      std::vector<int64_t>* shape = nullptr) const {
    DatasetInfo info = checked_info(name, DTypeOf<T>::value, pattern);
    std::vector<T> out(static_cast<size_t>(info.num_elements()));
    read_raw(name, DTypeOf<T>::value, out.data());
    if (shape) *shape = info.shape;
    return out;
  }

  // Reads rows of a dataset of type T along its first dimension, each row
  // whole, into `out` in the order given (a batch of windows in any order:
  // only the chunks that hold them are read). The dataset's shape must match
  // `pattern` (checked as read() checks it) and every row be inside it.
  template <class T>
  void read_rows(const std::string& name, const ShapePattern& pattern, const std::vector<int64_t>& rows,
                 T* out) const {
    read_rows_raw(name, DTypeOf<T>::value, pattern, rows, out);
  }
  // Rows [begin, begin + count) in one read.
  template <class T>
  std::vector<T> read_row_range(const std::string& name, const ShapePattern& pattern, int64_t begin,
                                int64_t count) const {
    const std::vector<int64_t> shape = checked_info(name, DTypeOf<T>::value, pattern).shape;
    std::vector<T> out(static_cast<std::size_t>((count > 0 ? count : 0) * row_elements(shape)));
    read_range_raw(name, DTypeOf<T>::value, shape, begin, count, out.data());
    return out;
  }

  bool has_attribute(const std::string& name) const;
  void set_attribute(const std::string& name, int64_t value);
  void set_attribute(const std::string& name, const std::string& value);
  int64_t int_attribute(const std::string& name) const;
  // Fixed-length strings only. Variable-length HDF5 strings live in a global
  // heap that libhdf5 1.10 reads without bounds checks (a crafted heap object
  // corrupts memory), so fastbert neither writes nor reads them.
  std::string string_attribute(const std::string& name) const;

  // Flushes and closes; errors surface here instead of in the destructor.
  void close();

 private:
  File(std::filesystem::path path, Handle file) : path_(std::move(path)), file_(std::move(file)) {}
  void write_raw(const std::string& name, DType dtype, const void* data, int64_t count,
                 const std::vector<int64_t>& shape, const Layout& layout);
  void append_raw(const std::string& name, DType dtype, const void* data, int64_t rows,
                  const std::vector<int64_t>& row_shape, int64_t chunk_rows);
  void read_raw(const std::string& name, DType dtype, void* out) const;
  void read_rows_raw(const std::string& name, DType dtype, const ShapePattern& pattern,
                     const std::vector<int64_t>& rows, void* out) const;
  void read_range_raw(const std::string& name, DType dtype, const std::vector<int64_t>& shape, int64_t begin,
                      int64_t count, void* out) const;
  DatasetInfo checked_info(const std::string& name, DType dtype, const ShapePattern& pattern) const;
  // Elements of one row (along the first dimension) of a dataset of `shape`.
  static int64_t row_elements(const std::vector<int64_t>& shape);
  Handle open_dataset(const std::string& name) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path path_;
  Handle file_;
  uint64_t file_bytes_ = UINT64_MAX;  // of an opened file: no dataset or attribute is larger
};

// True when the file carries the HDF5 signature where the format allows it.
bool is_hdf5_file(const std::filesystem::path& path);

// The 8 bytes an HDF5 superblock starts with.
inline constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

}  // namespace fastbert::hdf5
