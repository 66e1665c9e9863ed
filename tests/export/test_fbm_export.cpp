#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/export/fbm_export.h"
#include "fastbert/formats/hdf5.h"
#include "fastbert/formats/safetensors.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/fbm_file.h"
#include "squad_json.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using testing::TinyBert;

class FbmExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_unique<TinyBert>(testing::block_sparse_spec(0.8));
    model_->write_checkpoint(dir_ / "ckpt");
  }

  fs::path fp32_export() {
    ExportOptions o;
    o.precision = ExportPrecision::fp32;
    export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
    return dir_ / "m.fbm";
  }

  // The message fbm::FbmFile::open gives for `path`, or "" when it opens.
  static std::string open_error(const fs::path& path) {
    try {
      fbm::FbmFile::open(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  // The message the Engine gives for `path`, or "" when it loads.
  static std::string engine_error(const fs::path& path) {
    try {
      Engine engine(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  // Replaces dataset `name` by one of another type/shape holding zeros.
  static void replace_dataset(const fs::path& path, const std::string& name, hid_t type, std::vector<hsize_t> dims) {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, name.c_str(), H5P_DEFAULT), 0);
    if (type >= 0) {
      hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
      hid_t ds = H5Dcreate2(f, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      ASSERT_GE(ds, 0);
      std::vector<double> zeros(64, 0.0);
      H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
      H5Dclose(ds);
      H5Sclose(space);
    }
    H5Fclose(f);
  }

  testing::TestDir dir_{"fastbert-test-export"};
  std::unique_ptr<TinyBert> model_;
};

TEST_F(FbmExportTest, SummaryPacksOnlyLinearsAboveTheSparsityThreshold) {
  const auto windows = model_->random_windows(3, 32, 1);
  model_->write_quantization(dir_ / "ckpt", windows);
  ExportOptions o;
  o.sparse_threshold = 0.5;
  const ExportSummary sparse = export_fbm(dir_ / "ckpt", dir_ / "s.fbm", o);
  EXPECT_EQ(sparse.precision, ExportPrecision::int8);  // automatic: quantization.json is there
  ASSERT_EQ(sparse.linears.size(), 12u);
  for (const auto& l : sparse.linears) EXPECT_EQ(l.format, fbm::LinearFormat::sparse_4x1_int8) << l.name;
  o.sparse_threshold = 0.95;
  const ExportSummary dense = export_fbm(dir_ / "ckpt", dir_ / "d.fbm", o);
  for (const auto& l : dense.linears) EXPECT_EQ(l.format, fbm::LinearFormat::dense_int8) << l.name;
  o.precision = ExportPrecision::fp32;
  const ExportSummary fp32 = export_fbm(dir_ / "ckpt", dir_ / "f.fbm", o);
  EXPECT_LT(sparse.file_bytes, dense.file_bytes);
  EXPECT_LT(dense.file_bytes, fp32.file_bytes);
  EXPECT_LT(sparse.linears[0].bytes, dense.linears[0].bytes);
  const std::string text = format_export_summary(sparse);
  EXPECT_NE(text.find("encoder/layer_1/output"), std::string::npos) << text;
  EXPECT_NE(text.find("sparse_4x1_int8"), std::string::npos) << text;
  EXPECT_NE(text.find("fp32 checkpoint"), std::string::npos) << text;
}

TEST_F(FbmExportTest, LargeArraysAre64ByteAlignedForInPlaceUse) {
  const fs::path m = fp32_export();
  hdf5::File f = hdf5::File::open(m);
  for (const char* name : {"embeddings/word", "encoder/layer_0/query/weight", "encoder/layer_1/intermediate/weight"})
    EXPECT_EQ(f.dataset_offset(name) % 64, 0) << name;
}

TEST_F(FbmExportTest, Int8ExportWithoutQuantizationFileIsRefused) {
  ExportOptions o;
  o.precision = ExportPrecision::int8;
  try {
    export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
    FAIL() << "exported int8 without activation scales";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs quantization.json"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "m.fbm"));
}

TEST_F(FbmExportTest, CheckpointWithMissingTensorIsRefusedNamingIt) {
  SafetensorsFile st = read_safetensors(dir_ / "ckpt" / "model.safetensors");
  SafetensorsFile cut;
  for (auto& t : st.tensors)
    if (t.name != "bert.encoder.layer.1.output.dense.bias") cut.add(t);
  write_safetensors(dir_ / "ckpt" / "model.safetensors", cut);
  try {
    fp32_export();
    FAIL() << "exported a checkpoint with a missing tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.1.output.dense.bias' is missing"), std::string::npos)
        << e.what();
  }
}

TEST_F(FbmExportTest, IntactFileOpensAndAForeignFileIsRefused) {
  EXPECT_EQ(open_error(fp32_export()), "");
  write_file_atomic(dir_ / "text.fbm", "this is not a model\n");
  EXPECT_NE(open_error(dir_ / "text.fbm").find("not a .fbm model"), std::string::npos);
  EXPECT_NE(open_error(dir_ / "absent.fbm").find("no such model file"), std::string::npos);
}

// Was "no such model file" for all three; a FIFO would block forever if opened.
TEST_F(FbmExportTest, ModelPathThatIsADirectoryFifoOrSymlinkLoopIsNamedAsSuch) {
  fs::create_directories(dir_ / "d.fbm");
  EXPECT_NE(open_error(dir_ / "d.fbm").find("d.fbm: expected a model file, found a directory"), std::string::npos)
      << open_error(dir_ / "d.fbm");
  ASSERT_EQ(::mkfifo((dir_ / "p.fbm").c_str(), 0600), 0);
  EXPECT_NE(open_error(dir_ / "p.fbm").find("p.fbm: expected a model file, found a FIFO"), std::string::npos)
      << open_error(dir_ / "p.fbm");
  fs::create_symlink(dir_ / "b.fbm", dir_ / "a.fbm");
  fs::create_symlink(dir_ / "a.fbm", dir_ / "b.fbm");
  EXPECT_NE(open_error(dir_ / "a.fbm").find("a.fbm: not a model file (a symlink loop)"), std::string::npos)
      << open_error(dir_ / "a.fbm");
}

TEST_F(FbmExportTest, TruncatedFileIsRefused) {
  const fs::path m = fp32_export();
  fs::resize_file(m, fs::file_size(m) / 2);
  const std::string e = open_error(m);
  EXPECT_NE(e.find(m.string() + ": truncated .fbm model"), std::string::npos) << e;
}

TEST_F(FbmExportTest, FlippedWeightByteFailsTheChecksum) {
  const fs::path m = fp32_export();
  int64_t offset = 0;
  {
    hdf5::File f = hdf5::File::open(m);
    offset = f.dataset_offset("encoder/layer_1/key/weight") + 100;
  }
  std::fstream io(m, std::ios::in | std::ios::out | std::ios::binary);
  io.seekg(offset);
  char c = 0;
  io.read(&c, 1);
  c ^= 0x10;
  io.seekp(offset);
  io.write(&c, 1);
  io.close();
  EXPECT_NE(open_error(m).find("checksum mismatch"), std::string::npos) << open_error(m);
}

TEST_F(FbmExportTest, NewerMajorVersionIsRefused) {
  const fs::path m = fp32_export();
  std::string bytes = read_file(m);
  bytes[8] = static_cast<char>(fbm::kVersionMajor + 1);  // little-endian u32 at byte 8
  const uint32_t header_crc = file_header::crc32_update(0, bytes.data(), 28);
  for (int i = 0; i < 4; ++i) bytes[28 + i] = static_cast<char>(header_crc >> (8 * i));
  write_file_atomic(m, bytes);
  EXPECT_NE(open_error(m).find("written by a newer fastbert"), std::string::npos) << open_error(m);
}

TEST_F(FbmExportTest, HeaderlessHdf5FileIsRefusedAsWrittenBeforeFormat2) {
  const fs::path m = dir_ / "plain.h5";
  {
    hdf5::File f = hdf5::File::create(m);
    f.write<float>("x", std::vector<float>(16, 1.f), {16});
    f.close();
  }
  EXPECT_NE(open_error(m).find("without the .fbm model header: written by an older fastbert"), std::string::npos) << open_error(m);
}

TEST_F(FbmExportTest, BytesAppendedAfterTheModelAreRefused) {
  const fs::path m = fp32_export();
  std::ofstream(m, std::ios::binary | std::ios::app) << "tail";
  EXPECT_NE(open_error(m).find("damaged .fbm model: 4 bytes after its end"), std::string::npos) << open_error(m);
}

TEST_F(FbmExportTest, MissingDatasetIsRefusedNamingIt) {
  const fs::path m = fp32_export();
  replace_dataset(m, "qa_head/bias", -1, {});
  fbm::stamp_file(m);
  EXPECT_NE(open_error(m).find("dataset 'qa_head/bias' is missing"), std::string::npos) << open_error(m);
}

TEST_F(FbmExportTest, WrongDtypeAndWrongShapeAreRefusedByTheEngine) {
  const fs::path m = fp32_export();
  replace_dataset(m, "qa_head/bias", H5T_NATIVE_DOUBLE, {2});
  fbm::stamp_file(m);  // a consistent file, so the checks behind the checksum run
  EXPECT_NE(engine_error(m).find("'qa_head/bias' has type float64, expected float32"), std::string::npos)
      << engine_error(m);
  replace_dataset(m, "encoder/layer_0/value/bias", H5T_NATIVE_FLOAT, {3});
  replace_dataset(m, "qa_head/bias", H5T_NATIVE_FLOAT, {2});
  fbm::stamp_file(m);
  EXPECT_NE(engine_error(m).find("'encoder/layer_0/value/bias' has shape [3], expected [64]"), std::string::npos)
      << engine_error(m);
}

// Bounded in-test fuzzing: single-byte corruptions all over a small file must
// either open or be refused with fastbert::Error, never crash.
TEST_F(FbmExportTest, ByteCorruptionsAreRefusedOrHarmlessNeverACrash) {
  const fs::path m = fp32_export();
  const std::string original = read_file(m);
  int refused = 0;
  const size_t step = std::max<size_t>(1, original.size() / 300);
  for (size_t pos = 0; pos < original.size(); pos += step) {
    std::string bytes = original;
    bytes[pos] = static_cast<char>(bytes[pos] ^ 0x5a);
    write_file_atomic(dir_ / "c.fbm", bytes);
    try {
      Engine engine(dir_ / "c.fbm");
    } catch (const Error&) {
      ++refused;
    }
  }
  // Every byte is covered by the header checksum or the whole-file one.
  EXPECT_EQ(refused, static_cast<int>((original.size() + step - 1) / step));
}

TEST_F(FbmExportTest, Int8ExportCalibratesWithTheRuntimeOnGivenData) {
  std::string context = "the denver broncos won the super bowl 50 game in santa clara .";
  for (int i = 0; i < 6; ++i) context += " it was a long story about many things , and the team of the city .";
  std::vector<testing::SquadQuestion> qas;
  for (int i = 0; i < 4; ++i) qas.push_back({"q" + std::to_string(i), "who won the game ?", "denver broncos", 4});
  testing::write_squad_json(dir_ / "cal.json", context, qas);
  ExportOptions o;
  o.precision = ExportPrecision::int8;
  o.calibration_data = dir_ / "cal.json";
  const ExportSummary s = export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
  EXPECT_TRUE(s.calibrated);
  EXPECT_FALSE(fs::exists(dir_ / "m.fbm.calibration"));
  EXPECT_NE(format_export_summary(s).find("calibrated by the export"), std::string::npos);
  // Calibrated ranges: the int8 model stays near the fp32 one.
  o.precision = ExportPrecision::fp32;
  export_fbm(dir_ / "ckpt", dir_ / "f.fbm", o);
  Engine int8(dir_ / "m.fbm"), fp32(dir_ / "f.fbm");
  const auto windows = model_->random_windows(3, 40, 2);
  double max_diff = 0, max_ref = 0;
  for (const auto& w : windows) {
    std::vector<int32_t> mask(40, 0);
    std::fill(mask.begin(), mask.begin() + w.length, 1);
    std::vector<float> s8(40), e8(40), s32(40), e32(40);
    int8.forward(w.ids.data(), w.types.data(), mask.data(), 1, 40, s8.data(), e8.data());
    fp32.forward(w.ids.data(), w.types.data(), mask.data(), 1, 40, s32.data(), e32.data());
    for (int64_t i = 0; i < w.length; ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(s8[i] - s32[i])));
      max_ref = std::max(max_ref, static_cast<double>(std::fabs(s32[i])));
    }
  }
  EXPECT_LT(max_diff / max_ref, 0.1) << max_diff << " of " << max_ref;
}

}  // namespace
}  // namespace fastbert
