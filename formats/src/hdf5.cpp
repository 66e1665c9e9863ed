#include "fastbert/formats/hdf5.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <fstream>
#include <sstream>

#include "fastbert/common/error.h"

namespace fastbert::hdf5 {
namespace fs = std::filesystem;

namespace {

// HDF5 prints its whole error stack to stderr by default; fastbert reports one
// clear message instead. The setting is per thread in thread-safe builds.
//
// It also keeps libhdf5 from registering its atexit shutdown, which must
// happen before the library's first call: after a failed write (a full disk)
// H5Fclose fails and leaves a half-closed file in libhdf5's tables, and the
// shutdown then closes it again and segfaults (exit 139 after the clear
// error). Every File is closed by its owner on every path (RAII), so there
// is nothing left for the shutdown to flush.
void silence_hdf5() {
  static const bool no_atexit = [] { return H5dont_atexit() >= 0; }();
  (void)no_atexit;
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

herr_t keep_innermost(unsigned, const H5E_error2_t* err, void* client) {
  if (err->desc && *err->desc) *static_cast<std::string*>(client) = err->desc;
  return 0;
}

// The innermost HDF5 message usually says what is really wrong
// ("truncated file: eof = ...", "file signature not found").
std::string hdf5_detail() {
  std::string desc;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_innermost, &desc);
  H5Eclear2(H5E_DEFAULT);
  return desc.empty() ? std::string() : " (HDF5: " + desc + ")";
}

hid_t native_type(DType t) {
  switch (t) {
    case DType::kInt8:
      return H5T_NATIVE_INT8;
    case DType::kUInt8:
      return H5T_NATIVE_UINT8;
    case DType::kInt32:
      return H5T_NATIVE_INT32;
    case DType::kInt64:
      return H5T_NATIVE_INT64;
    case DType::kFloat32:
      return H5T_NATIVE_FLOAT;
    case DType::kFloat64:
      return H5T_NATIVE_DOUBLE;
    default:
      return H5I_INVALID_HID;
  }
}

// Files are always little-endian, whatever the writing machine.
hid_t file_type(DType t) {
  switch (t) {
    case DType::kInt8:
      return H5T_STD_I8LE;
    case DType::kUInt8:
      return H5T_STD_U8LE;
    case DType::kInt32:
      return H5T_STD_I32LE;
    case DType::kInt64:
      return H5T_STD_I64LE;
    case DType::kFloat32:
      return H5T_IEEE_F32LE;
    case DType::kFloat64:
      return H5T_IEEE_F64LE;
    default:
      return H5I_INVALID_HID;
  }
}

DType classify(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_STRING) return DType::kString;
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1) return is_signed ? DType::kInt8 : DType::kUInt8;
    if (size == 4 && is_signed) return DType::kInt32;
    if (size == 8 && is_signed) return DType::kInt64;
  }
  if (cls == H5T_FLOAT) {
    if (size == 4) return DType::kFloat32;
    if (size == 8) return DType::kFloat64;
  }
  return DType::kOther;
}

uint64_t element_bytes(DType t) {
  switch (t) {
    case DType::kInt8:
    case DType::kUInt8: return 1;
    case DType::kInt32:
    case DType::kFloat32: return 4;
    default: return 8;
  }
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s << ",";
    if (shape[i] < 0)
      s << "*";
    else
      s << shape[i];
  }
  s << "]";
  return s.str();
}

bool shape_matches(const std::vector<int64_t>& shape, const ShapePattern& pattern) {
  if (shape.size() != pattern.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i)
    if (pattern[i] >= 0 && pattern[i] != shape[i]) return false;
  return true;
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = H5I_INVALID_HID;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::kInt8:
      return "int8";
    case DType::kUInt8:
      return "uint8";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kString:
      return "string";
    default:
      return "unsupported type";
  }
}

int64_t DatasetInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool is_hdf5_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  // The superblock sits at 0 or, after a user block, at 512 * 2^k bytes.
  for (std::streamoff at = 0;; at = at ? at * 2 : 512) {
    char head[8] = {};
    f.clear();
    f.seekg(at);
    if (!f.read(head, 8)) return false;
    if (std::memcmp(head, kSignature, sizeof(kSignature)) == 0) return true;
    if (at >= (std::streamoff{1} << 40)) return false;
  }
}

File File::create(const fs::path& path, const FileOptions& options) {
  silence_hdf5();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (options.alignment > 0 && H5Pset_alignment(fapl.get(), static_cast<hsize_t>(options.alignment_threshold),
                                                static_cast<hsize_t>(options.alignment)) < 0)
    throw Error(path.string() + ": invalid HDF5 alignment " + std::to_string(options.alignment) + hdf5_detail());
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  if (options.user_block_bytes > 0 &&
      H5Pset_userblock(fcpl.get(), static_cast<hsize_t>(options.user_block_bytes)) < 0)
    throw Error(path.string() + ": invalid HDF5 user block size " + std::to_string(options.user_block_bytes) +
                hdf5_detail());
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  if (id < 0) throw Error("cannot create HDF5 file " + path.string() + hdf5_detail());
  return File(path, Handle(id, H5Fclose));
}

File File::open(const fs::path& path) {
  silence_hdf5();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string() + ": file not found");
  if (!fs::is_regular_file(path, ec)) throw Error(path.string() + ": not a regular file");
  if (!is_hdf5_file(path)) throw Error(path.string() + ": not an HDF5 file (no HDF5 signature at the start)");
  const auto bytes = static_cast<uint64_t>(fs::file_size(path, ec));
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw Error(path.string() + ": cannot open HDF5 file (damaged or truncated?)" + hdf5_detail());
  File f(path, Handle(id, H5Fclose));
  f.file_bytes_ = bytes;
  return f;
}

void File::fail(const std::string& what) const { throw Error(path_.string() + ": " + what + hdf5_detail()); }

bool File::has_dataset(const std::string& name) const {
  silence_hdf5();
  htri_t exists = H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT);
  if (exists <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  H5O_info_t info;
  if (H5Oget_info_by_name(file_.get(), name.c_str(), &info, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return info.type == H5O_TYPE_DATASET;
}

Handle File::open_dataset(const std::string& name) const {
  silence_hdf5();
  if (!has_dataset(name)) throw Error(path_.string() + ": missing dataset '" + name + "'");
  hid_t id = H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT);
  if (id < 0) fail("cannot open dataset '" + name + "'");
  return Handle(id, H5Dclose);
}

DatasetInfo File::dataset_info(const std::string& name) const {
  Handle ds = open_dataset(name);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  if (!type.valid() || !space.valid()) fail("cannot read type/shape of dataset '" + name + "'");
  DatasetInfo info;
  info.dtype = classify(type.get());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("cannot read the shape of dataset '" + name + "'");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  for (hsize_t d : dims) info.shape.push_back(static_cast<int64_t>(d));
  return info;
}

int64_t File::dataset_offset(const std::string& name) const {
  Handle ds = open_dataset(name);
  haddr_t offset = H5Dget_offset(ds.get());
  if (offset == HADDR_UNDEF) fail("dataset '" + name + "' has no contiguous storage to map");
  return static_cast<int64_t>(offset);
}

DatasetInfo File::checked_info(const std::string& name, DType dtype, const ShapePattern& pattern) const {
  DatasetInfo info = dataset_info(name);
  if (info.dtype != dtype)
    throw Error(path_.string() + ": dataset '" + name + "' has type " + dtype_name(info.dtype) + ", expected " +
                dtype_name(dtype));
  if (!shape_matches(info.shape, pattern))
    throw Error(path_.string() + ": dataset '" + name + "' has shape " + shape_string(info.shape) + ", expected " +
                shape_string(pattern));
  // The extents come from the file: fastbert never writes a dataset that is
  // not stored, so one larger than the file is damage, refused before the
  // product of its extents can overflow or a huge buffer is allocated.
  uint64_t bytes = element_bytes(dtype);
  for (int64_t d : info.shape)
    if (d < 0 || (d > 0 && __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) || bytes > file_bytes_)
      throw Error(path_.string() + ": dataset '" + name + "' has shape " + shape_string(info.shape) +
                  ", larger than the file");
  return info;
}

void File::write_raw(const std::string& name, DType dtype, const void* data, int64_t count,
                     const std::vector<int64_t>& shape, const Layout& layout) {
  silence_hdf5();
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(path_.string() + ": negative extent in shape " + shape_string(shape) + " of '" + name + "'");
    n *= d;
  }
  if (count >= 0 && count != n)
    throw Error(path_.string() + ": dataset '" + name + "' has " + std::to_string(count) + " elements, shape " +
                shape_string(shape) + " needs " + std::to_string(n));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  if (!space.valid()) fail("cannot create dataspace for '" + name + "'");
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (layout.chunk_rows > 0 && !dims.empty()) {
    // HDF5 wants every chunk extent positive, also for an empty dataset.
    std::vector<hsize_t> chunk(dims.size());
    chunk[0] = static_cast<hsize_t>(std::clamp<int64_t>(shape[0], 1, layout.chunk_rows));
    for (size_t i = 1; i < dims.size(); ++i) chunk[i] = std::max<hsize_t>(dims[i], 1);
    if (H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) < 0)
      fail("cannot set the chunk shape of '" + name + "'");
  }
  Handle ds(H5Dcreate2(file_.get(), name.c_str(), file_type(dtype), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) fail("cannot create dataset '" + name + "'");
  if (n > 0 && H5Dwrite(ds.get(), native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write dataset '" + name + "' (disk full?)");
}

void File::append_raw(const std::string& name, DType dtype, const void* data, int64_t rows,
                      const std::vector<int64_t>& row_shape, int64_t chunk_rows) {
  silence_hdf5();
  if (rows < 0 || chunk_rows <= 0)
    throw Error(path_.string() + ": cannot append " + std::to_string(rows) + " rows in chunks of " +
                std::to_string(chunk_rows) + " to '" + name + "'");
  std::vector<hsize_t> block{static_cast<hsize_t>(rows)};
  for (int64_t d : row_shape) {
    if (d < 0) throw Error(path_.string() + ": negative extent in row shape " + shape_string(row_shape) + " of '" + name + "'");
    block.push_back(static_cast<hsize_t>(d));
  }
  const int rank = static_cast<int>(block.size());
  Handle ds;
  if (!has_dataset(name)) {
    std::vector<hsize_t> dims = block, max_dims = block, chunk = block;
    dims[0] = 0;
    max_dims[0] = H5S_UNLIMITED;
    chunk[0] = static_cast<hsize_t>(chunk_rows);
    for (int i = 1; i < rank; ++i) chunk[i] = std::max<hsize_t>(chunk[i], 1);
    Handle space(H5Screate_simple(rank, dims.data(), max_dims.data()), H5Sclose);
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (!space.valid() || H5Pset_chunk(dcpl.get(), rank, chunk.data()) < 0)
      fail("cannot set up the growing dataset '" + name + "'");
    ds = Handle(H5Dcreate2(file_.get(), name.c_str(), file_type(dtype), space.get(), lcpl.get(), dcpl.get(),
                           H5P_DEFAULT),
                H5Dclose);
    if (!ds.valid()) fail("cannot create dataset '" + name + "'");
  } else {
    ds = open_dataset(name);
  }
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (!space.valid() || H5Sget_simple_extent_ndims(space.get()) != rank ||
      H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0 ||
      !std::equal(dims.begin() + 1, dims.end(), block.begin() + 1))
    throw Error(path_.string() + ": rows of shape " + shape_string(row_shape) + " do not fit dataset '" + name + "'");
  if (rows == 0) return;
  std::vector<hsize_t> start(static_cast<size_t>(rank), 0);
  start[0] = dims[0];
  dims[0] += block[0];
  if (H5Dset_extent(ds.get(), dims.data()) < 0) fail("cannot grow dataset '" + name + "'");
  Handle file_space(H5Dget_space(ds.get()), H5Sclose);
  Handle memory_space(H5Screate_simple(rank, block.data(), nullptr), H5Sclose);
  if (!file_space.valid() || !memory_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr) < 0)
    fail("cannot select rows to append to '" + name + "'");
  if (H5Dwrite(ds.get(), native_type(dtype), memory_space.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    fail("cannot write dataset '" + name + "' (disk full?)");
}

void File::read_raw(const std::string& name, DType dtype, void* out) const {
  Handle ds = open_dataset(name);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) == 0) return;
  if (H5Dread(ds.get(), native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    fail("cannot read dataset '" + name + "' (file truncated or damaged?)");
}

namespace {

// Rows [begin, begin + count) of an open dataset of `shape` into `out`.
void read_row_block(hid_t ds, hid_t mem_type, const std::vector<int64_t>& shape, int64_t begin, int64_t count,
                    void* out, const std::function<void(const std::string&)>& fail) {
  Handle file_space(H5Dget_space(ds), H5Sclose);
  std::vector<hsize_t> start(shape.size(), 0), block(shape.begin(), shape.end());
  start[0] = static_cast<hsize_t>(begin);
  block[0] = static_cast<hsize_t>(count);
  Handle memory_space(H5Screate_simple(static_cast<int>(block.size()), block.data(), nullptr), H5Sclose);
  if (!file_space.valid() || !memory_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr) < 0)
    fail("cannot select rows");
  if (H5Dread(ds, mem_type, memory_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
    fail("cannot read (file truncated or damaged?)");
}

}  // namespace

int64_t File::row_elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) n *= shape[d];
  return n;
}

void File::read_range_raw(const std::string& name, DType dtype, const std::vector<int64_t>& shape, int64_t begin,
                          int64_t count, void* out) const {
  if (shape.empty()) throw Error(path_.string() + ": dataset '" + name + "' has no rows to read");
  if (begin < 0 || count < 0 || begin > shape[0] || count > shape[0] - begin)
    throw Error(path_.string() + ": rows [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                ") are outside dataset '" + name + "' of " + std::to_string(shape[0]) + " rows");
  if (count == 0 || row_elements(shape) == 0) return;
  Handle ds = open_dataset(name);
  read_row_block(ds.get(), native_type(dtype), shape, begin, count, out,
                 [&](const std::string& what) { fail(what + " of dataset '" + name + "'"); });
}

void File::read_rows_raw(const std::string& name, DType dtype, const ShapePattern& pattern,
                         const std::vector<int64_t>& rows, void* out) const {
  const std::vector<int64_t> shape = checked_info(name, dtype, pattern).shape;
  for (int64_t r : rows)
    if (r < 0 || r >= shape[0])
      throw Error(path_.string() + ": row " + std::to_string(r) + " is outside dataset '" + name + "' of " +
                  std::to_string(shape[0]) + " rows");
  const int64_t per_row = row_elements(shape);
  if (rows.empty() || per_row == 0) return;
  const auto row_bytes = static_cast<std::size_t>(per_row) * element_bytes(dtype);
  // One dataset handle, one read per row: the rows of a shuffled batch lie
  // scattered over the chunks, and the handle's chunk cache keeps the chunks
  // it has touched.
  Handle ds = open_dataset(name);
  const auto on_error = [&](const std::string& what) { fail(what + " of dataset '" + name + "'"); };
  for (std::size_t i = 0; i < rows.size(); ++i)
    read_row_block(ds.get(), native_type(dtype), shape, rows[i], 1, static_cast<char*>(out) + i * row_bytes,
                   on_error);
}

bool File::has_attribute(const std::string& name) const {
  silence_hdf5();
  htri_t e = H5Aexists(file_.get(), name.c_str());
  if (e < 0) H5Eclear2(H5E_DEFAULT);
  return e > 0;
}

void File::set_attribute(const std::string& name, int64_t value) {
  silence_hdf5();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(file_.get(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    fail("cannot write attribute '" + name + "'");
}

void File::set_attribute(const std::string& name, const std::string& value) {
  silence_hdf5();
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  std::string buffer = value.empty() ? std::string(1, '\0') : value;
  if (!attr.valid() || H5Awrite(attr.get(), type.get(), buffer.data()) < 0)
    fail("cannot write attribute '" + name + "'");
}

int64_t File::int_attribute(const std::string& name) const {
  if (!has_attribute(name)) throw Error(path_.string() + ": missing attribute '" + name + "'");
  Handle attr(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!attr.valid() || !type.valid()) fail("cannot open attribute '" + name + "'");
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw Error(path_.string() + ": attribute '" + name + "' is not a scalar integer");
  int64_t value = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0) fail("cannot read attribute '" + name + "'");
  return value;
}

std::string File::string_attribute(const std::string& name) const {
  if (!has_attribute(name)) throw Error(path_.string() + ": missing attribute '" + name + "'");
  Handle attr(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!attr.valid() || !type.valid()) fail("cannot open attribute '" + name + "'");
  if (H5Tget_class(type.get()) != H5T_STRING || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw Error(path_.string() + ": attribute '" + name + "' is not a scalar string");
  if (H5Tis_variable_str(type.get()) != 0)
    throw Error(path_.string() + ": attribute '" + name +
                "' is a variable-length string, which fastbert does not read (libhdf5 1.10 reads their heap "
                "unchecked); store a fixed-length string");
  const size_t size = H5Tget_size(type.get());
  if (size == 0 || size > file_bytes_)
    throw Error(path_.string() + ": attribute '" + name + "' claims " + std::to_string(size) +
                " bytes, more than the file holds");
  std::string buffer(size, '\0');
  if (H5Aread(attr.get(), type.get(), buffer.data()) < 0) fail("cannot read attribute '" + name + "'");
  buffer.resize(std::strlen(buffer.c_str()));
  return buffer;
}

void File::close() {
  if (!file_.valid()) return;
  silence_hdf5();
  const bool flushed = H5Fflush(file_.get(), H5F_SCOPE_LOCAL) >= 0;
  const std::string detail = flushed ? std::string() : hdf5_detail();
  file_.reset();
  if (!flushed) throw Error(path_.string() + ": cannot flush (disk full?)" + detail);
}

}  // namespace fastbert::hdf5
