#include "fastbert/formats/hdf5.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "fastbert/common/error.h"

namespace fastbert::hdf5 {
namespace fs = std::filesystem;

namespace {

// HDF5 prints its whole error stack to stderr by default; fastbert reports one
// clear message instead. The setting is per thread in thread-safe builds.
void silence_hdf5() {
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
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw Error(path.string() + ": cannot open HDF5 file (damaged or truncated?)" + hdf5_detail());
  return File(path, Handle(id, H5Fclose));
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
  return info;
}

void File::write_raw(const std::string& name, DType dtype, const void* data, int64_t count,
                     const std::vector<int64_t>& shape) {
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
  // Contiguous layout (the default without chunking) keeps the raw data in one
  // piece at a known offset.
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle ds(H5Dcreate2(file_.get(), name.c_str(), file_type(dtype), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) fail("cannot create dataset '" + name + "'");
  if (n > 0 && H5Dwrite(ds.get(), native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write dataset '" + name + "' (disk full?)");
}

void File::read_raw(const std::string& name, DType dtype, void* out) const {
  Handle ds = open_dataset(name);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) == 0) return;
  if (H5Dread(ds.get(), native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    fail("cannot read dataset '" + name + "' (file truncated or damaged?)");
}

void File::write_strings(const std::string& name, const std::vector<std::string>& strings) {
  silence_hdf5();
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  hsize_t dims[1] = {strings.size()};
  Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Handle ds(H5Dcreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) fail("cannot create dataset '" + name + "'");
  std::vector<const char*> ptrs;
  ptrs.reserve(strings.size());
  for (const auto& s : strings) ptrs.push_back(s.c_str());
  if (!ptrs.empty() && H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail("cannot write dataset '" + name + "' (disk full?)");
}

std::vector<std::string> File::read_strings(const std::string& name) const {
  Handle ds = open_dataset(name);
  Handle file_type_h(H5Dget_type(ds.get()), H5Tclose);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  if (H5Tget_class(file_type_h.get()) != H5T_STRING || H5Tis_variable_str(file_type_h.get()) <= 0)
    throw Error(path_.string() + ": dataset '" + name + "' has type " + dtype_name(classify(file_type_h.get())) +
                ", expected variable-length string");
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw Error(path_.string() + ": dataset '" + name + "' must be one-dimensional");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<std::string> out;
  if (n <= 0) return out;
  Handle mem_type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem_type.get(), H5T_VARIABLE);
  H5Tset_cset(mem_type.get(), H5Tget_cset(file_type_h.get()));
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (H5Dread(ds.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail("cannot read dataset '" + name + "' (file truncated or damaged?)");
  out.reserve(ptrs.size());
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(mem_type.get(), space.get(), H5P_DEFAULT, ptrs.data());
  return out;
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
  if (H5Tis_variable_str(type.get()) > 0) {
    // Written by h5py and others: a pointer the library allocates.
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* p = nullptr;
    if (H5Aread(attr.get(), mem.get(), &p) < 0) fail("cannot read attribute '" + name + "'");
    std::string value = p ? p : "";
    H5free_memory(p);
    return value;
  }
  const size_t size = H5Tget_size(type.get());
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
