#include <gtest/gtest.h>

#include <filesystem>

#include "fastbert/common/error.h"
#include "fastbert/formats/hdf5.h"

namespace fastbert::hdf5 {
namespace {
namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("fastbert-test-hdf5-" + std::to_string(::getpid()) + "-" + name);
}

TEST(Hdf5File, TypedDatasetsAndAttributesRoundTrip) {
  const fs::path path = temp_file("roundtrip.h5");
  {
    File f = File::create(path);
    f.write("group/floats", std::vector<float>{1.5f, -2.f, 3.25f, 0.f, 7.f, 8.f}, {2, 3});
    f.write("bytes", std::vector<int8_t>{-128, 0, 127}, {3});
    f.write("empty", std::vector<int32_t>{}, {0, 4});
    f.set_attribute("count", int64_t{-42});
    f.set_attribute("label", std::string("hello"));
    f.set_attribute("blank", std::string());
    f.close();
  }
  File f = File::open(path);
  std::vector<int64_t> shape;
  EXPECT_EQ(f.read<float>("group/floats", {-1, 3}, &shape), (std::vector<float>{1.5f, -2.f, 3.25f, 0.f, 7.f, 8.f}));
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.read<int8_t>("bytes", {3}), (std::vector<int8_t>{-128, 0, 127}));
  EXPECT_TRUE(f.read<int32_t>("empty", {0, 4}).empty());
  EXPECT_EQ(f.int_attribute("count"), -42);
  EXPECT_EQ(f.string_attribute("label"), "hello");
  EXPECT_EQ(f.string_attribute("blank"), "");
  EXPECT_TRUE(f.has_dataset("group/floats"));
  EXPECT_FALSE(f.has_dataset("group"));
  EXPECT_FALSE(f.has_dataset("nope/deeper"));
  fs::remove(path);
}

TEST(Hdf5File, AlignmentOptionPlacesDatasetsOn64ByteBoundaries) {
  const fs::path path = temp_file("aligned.h5");
  {
    File f = File::create(path, FileOptions{64, 1});
    f.write("a", std::vector<uint8_t>(3, 1), {3});
    f.write("b", std::vector<float>(17, 2.f), {17});
    f.write("c", std::vector<int32_t>(5, 3), {5});
    f.close();
  }
  File f = File::open(path);
  for (const char* name : {"a", "b", "c"}) EXPECT_EQ(f.dataset_offset(name) % 64, 0) << name;
  fs::remove(path);
}

TEST(Hdf5File, ReadWithWrongTypeOrShapeNamesTheDataset) {
  const fs::path path = temp_file("types.h5");
  {
    File f = File::create(path);
    f.write("x", std::vector<double>{1, 2}, {2});
    f.close();
  }
  File f = File::open(path);
  try {
    f.read<float>("x", {2});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dataset 'x' has type float64, expected float32"), std::string::npos);
  }
  try {
    f.read<double>("x", {2, 1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [2], expected [2,1]"), std::string::npos);
  }
  EXPECT_THROW(f.int_attribute("missing"), Error);
  fs::remove(path);
}

TEST(Hdf5File, WriteRejectsDataThatDoesNotFillTheShape) {
  const fs::path path = temp_file("short.h5");
  File f = File::create(path);
  EXPECT_THROW(f.write("x", std::vector<int32_t>{1, 2, 3}, {2, 2}), Error);
  f.close();
  fs::remove(path);
}

TEST(Hdf5File, CreateInMissingDirectoryFailsWithoutStackSpam) {
  ::testing::internal::CaptureStderr();
  EXPECT_THROW(File::create("/nonexistent-dir-fastbert/x.h5"), Error);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace fastbert::hdf5
