#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/formats/safetensors.h"
#include "test_dir.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

// Parses and returns the error message, or "" if the bytes were accepted.
std::string rejection(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class SafetensorsTest : public ::testing::Test {
 protected:
  fastbert::testing::TestDir dir_{"fastbert-safetensors"};
};

TEST_F(SafetensorsTest, RoundTripKeepsEveryDtypeShapeValueAndMetadata) {
  SafetensorsFile f;
  f.metadata["format"] = "pt";
  f.metadata["note"] = "round trip";
  f.add({"a.weight", SafetensorsDType::F32, {2, 3}, floats({1, -2, 3.5f, 0, 1e-30f, 7})});
  f.add({"b.half", SafetensorsDType::F16, {3}, std::string("\x00\x3c\x00\xc0\xff\x7b", 6)});
  f.add({"c.bf16", SafetensorsDType::BF16, {1}, std::string("\x80\x3f", 2)});
  f.add({"d.ids", SafetensorsDType::I64, {2}, std::string(16, '\x01')});
  f.add({"e.i32", SafetensorsDType::I32, {1, 1}, std::string("\xff\xff\xff\x7f", 4)});
  f.add({"f.i8", SafetensorsDType::I8, {4}, std::string("\x80\x7f\x00\x01", 4)});
  f.add({"g.u8", SafetensorsDType::U8, {2}, std::string("\xff\x00", 2)});
  f.add({"h.mask", SafetensorsDType::BOOL, {3}, std::string("\x01\x00\x01", 3)});
  f.add({"i.scalar", SafetensorsDType::F64, {}, std::string(8, '\x42')});
  f.add({"j.empty", SafetensorsDType::F32, {0, 5}, ""});
  const fs::path path = dir_ / "model.safetensors";
  write_safetensors(path, f);

  const std::string bytes = read_file(path);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_len % 8, 0u) << "tensor data must start 8-byte aligned";

  const SafetensorsFile g = read_safetensors(path);
  EXPECT_EQ(g.metadata, f.metadata);
  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (std::size_t i = 0; i < f.tensors.size(); ++i) {
    EXPECT_EQ(g.tensors[i].name, f.tensors[i].name);
    EXPECT_EQ(g.tensors[i].dtype, f.tensors[i].dtype) << f.tensors[i].name;
    EXPECT_EQ(g.tensors[i].shape, f.tensors[i].shape) << f.tensors[i].name;
    EXPECT_EQ(g.tensors[i].data, f.tensors[i].data) << f.tensors[i].name;
  }
  ASSERT_NE(g.find("i.scalar"), nullptr);
  EXPECT_EQ(g.find("i.scalar")->numel(), 1);
  EXPECT_EQ(g.find("missing"), nullptr);
}

TEST_F(SafetensorsTest, ReadsHandWrittenFileInTheReferenceLayout) {
  // What the Python `safetensors` package writes for {"x": tensor([1., 2.])}.
  const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const SafetensorsFile f = parse_safetensors(file_bytes(header, floats({1, 2})), "ref.safetensors");
  ASSERT_EQ(f.tensors.size(), 1u);
  float v[2];
  std::memcpy(v, f.tensors[0].data.data(), 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.0f);
}

TEST_F(SafetensorsTest, RejectsFileShorterThanHeaderLength) {
  EXPECT_NE(rejection("abc").find("shorter than the 8-byte header length"), std::string::npos) << rejection("abc");
}

TEST_F(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
  const std::string msg = rejection(le64(1000) + "{}");
  EXPECT_NE(msg.find("runs past the end of the file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, RejectsTruncatedHeaderJson) {
  const std::string full = file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", floats({1, 2}));
  // Claim the full header length but cut the file inside the header.
  const std::string msg = rejection(full.substr(0, 30));
  EXPECT_NE(msg.find("runs past the end"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, RejectsInvalidJson) {
  const std::string msg = rejection(file_bytes(R"({"x": {"dtype": "F32",)", ""));
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(rejection(file_bytes("[1,2]", "")).find("not a JSON object"), std::string::npos);
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  const std::string msg = rejection(file_bytes(R"({"x":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", "ab"));
  EXPECT_NE(msg.find("unknown safetensors dtype 'F8'"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, UnknownDtypeMessageNamesTheFileAndTheTensor) {
  const std::string msg = rejection(file_bytes(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})", "ab"));
  EXPECT_NE(msg.find("bad.safetensors: tensor 'w': unknown safetensors dtype 'Q4'"), std::string::npos) << msg;
}

// 2^62 F32 elements are 2^64 bytes, which wraps to 0 and matched empty
// data_offsets; the reader then asked for a 2^62-element vector
// ("cannot create std::vector larger than max_size()").
TEST_F(SafetensorsTest, ShapeWhoseByteCountOverflowsIsRefusedNamingTheTensor) {
  const std::string msg =
      rejection(file_bytes(R"({"w":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}})", ""));
  EXPECT_NE(msg.find("bad.safetensors: tensor 'w': shape [2147483648,2147483648] of dtype F32 needs more than 2^64 bytes"),
            std::string::npos)
      << msg;
  const std::string huge = rejection(
      file_bytes(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""));
  EXPECT_NE(huge.find("tensor 'w': shape has more than 2^63 elements"), std::string::npos) << huge;
}

TEST_F(SafetensorsTest, DirectoryOrFifoInsteadOfAFileIsNamedAsSuch) {
  const fs::path dir = fs::temp_directory_path() / ("fastbert-st-dir-" + std::to_string(::getpid()));
  fs::create_directories(dir / "model.safetensors");
  try {
    read_safetensors(dir / "model.safetensors");
    ADD_FAILURE() << "a directory was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors: expected a safetensors file, found a directory"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

TEST_F(SafetensorsTest, RejectsOffsetsOutsideTheFile) {
  const std::string msg =
      rejection(file_bytes(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", floats({1, 2})));
  EXPECT_NE(msg.find("lie outside the data section"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'x'"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, RejectsOverlappingTensors) {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  const std::string msg = rejection(file_bytes(header, floats({1, 2, 3})));
  EXPECT_NE(msg.find("overlaps"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, RejectsGapsAndTrailingBytes) {
  const std::string gap =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  EXPECT_NE(rejection(file_bytes(gap, floats({1, 2, 3}))).find("gap of 4 unused bytes"), std::string::npos);
  const std::string one = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_NE(rejection(file_bytes(one, floats({1, 2}))).find("trailing bytes"), std::string::npos);
}

TEST_F(SafetensorsTest, RejectsByteCountThatDoesNotMatchDtypeTimesShape) {
  const std::string msg =
      rejection(file_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})));
  EXPECT_NE(msg.find("holds 8 bytes but dtype F32 x shape needs 12"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, RejectsMalformedEntries) {
  EXPECT_NE(rejection(file_bytes(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", ""))
                .find("negative dimension"),
            std::string::npos);
  EXPECT_NE(rejection(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", floats({1})))
                .find("data_offsets"),
            std::string::npos);
  EXPECT_NE(rejection(file_bytes(R"({"x":{"dtype":"F32","shape":[1]}})", floats({1}))).find("data_offsets"),
            std::string::npos);
  EXPECT_NE(rejection(file_bytes(R"({"__metadata__":{"k":1}})", "")).find("is not a string"), std::string::npos);
}

TEST_F(SafetensorsTest, MissingFileErrorNamesThePath) {
  try {
    read_safetensors(dir_ / "nope.safetensors");
    FAIL() << "a missing file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, AddRefusesDuplicateNamesAndWrongByteCounts) {
  SafetensorsFile f;
  f.add({"x", SafetensorsDType::F32, {1}, floats({1})});
  EXPECT_THROW(f.add({"x", SafetensorsDType::F32, {1}, floats({1})}), Error);
  EXPECT_THROW(f.add({"y", SafetensorsDType::F32, {2}, floats({1})}), Error);
}

}  // namespace
}  // namespace fastbert
