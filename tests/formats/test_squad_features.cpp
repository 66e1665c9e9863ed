#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/formats/hdf5.h"
#include "fastbert/formats/squad_features.h"
#include "test_dir.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

class SquadFeaturesFile : public ::testing::Test {
 protected:

  // Three windows of two examples, every array filled with distinct values.
  static SquadFeatures sample() {
    SquadFeatures f;
    f.max_seq = 8;
    f.doc_stride = 3;
    f.max_query = 2;
    f.tokenizer = "wordpiece:test";
    const int n = 3, s = 8;
    for (int i = 0; i < n * s; ++i) {
      f.input_ids.push_back(100 + i);
      f.token_type_ids.push_back(i % s >= 4);
      f.attention_mask.push_back(i % s < 7);
      f.offsets.push_back(i % s >= 4 ? i : -1);
      f.offsets.push_back(i % s >= 4 ? i + 1 : -1);
    }
    f.start_positions = {4, 0, 5};
    f.end_positions = {5, 0, 6};
    f.example_index = {0, 0, 1};
    f.example_ids = {"q-éa", "q2"};
    return f;
  }

  // Writes `f` the way write_squad_features does, letting `edit` damage it.
  void write_custom(const fs::path& path, const SquadFeatures& f,
                    const std::function<bool(hdf5::File&, const std::string&)>& skip_or_replace) {
    hdf5::File file = hdf5::File::create(path);
    const int64_t n = f.num_windows(), s = f.max_seq;
    auto put = [&](const std::string& name, const std::vector<int32_t>& v, std::vector<int64_t> shape) {
      if (!skip_or_replace(file, name)) file.write(name, v, shape);
    };
    if (!skip_or_replace(file, "format")) file.set_attribute("format", std::string("fastbert-squad-features"));
    if (!skip_or_replace(file, "version")) file.set_attribute("version", int64_t{1});
    file.set_attribute("max_seq", f.max_seq);
    file.set_attribute("doc_stride", f.doc_stride);
    file.set_attribute("max_query", f.max_query);
    file.set_attribute("tokenizer", f.tokenizer);
    put("input_ids", f.input_ids, {n, s});
    put("token_type_ids", f.token_type_ids, {n, s});
    put("attention_mask", f.attention_mask, {n, s});
    put("start_positions", f.start_positions, {n});
    put("end_positions", f.end_positions, {n});
    put("offsets", f.offsets, {n, s, 2});
    put("example_index", f.example_index, {n});
    if (!skip_or_replace(file, "example_ids")) file.write_strings("example_ids", f.example_ids);
    file.close();
  }

  // The read must fail with a fastbert::Error whose message holds `expected`,
  // and HDF5 must not print its error stack.
  static void expect_rejected(const fs::path& path, const std::string& expected) {
    ::testing::internal::CaptureStderr();
    try {
      read_squad_features(path);
      ::testing::internal::GetCapturedStderr();
      FAIL() << "no error for " << path;
    } catch (const Error& e) {
      const std::string err = ::testing::internal::GetCapturedStderr();
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
      EXPECT_EQ(err, "") << "HDF5 printed to stderr";
    }
  }

  fastbert::testing::TestDir dir_{"fastbert-test-features"};
};

TEST_F(SquadFeaturesFile, RoundTripPreservesEveryArrayAndAttribute) {
  const SquadFeatures f = sample();
  write_squad_features(dir_ / "f.h5", f);
  const SquadFeatures r = read_squad_features(dir_ / "f.h5");
  EXPECT_EQ(r.max_seq, 8);
  EXPECT_EQ(r.doc_stride, 3);
  EXPECT_EQ(r.max_query, 2);
  EXPECT_EQ(r.tokenizer, f.tokenizer);
  EXPECT_EQ(r.input_ids, f.input_ids);
  EXPECT_EQ(r.token_type_ids, f.token_type_ids);
  EXPECT_EQ(r.attention_mask, f.attention_mask);
  EXPECT_EQ(r.start_positions, f.start_positions);
  EXPECT_EQ(r.end_positions, f.end_positions);
  EXPECT_EQ(r.offsets, f.offsets);
  EXPECT_EQ(r.example_index, f.example_index);
  EXPECT_EQ(r.example_ids, f.example_ids);
  EXPECT_TRUE(r.teacher_start_logits.empty());
}

TEST_F(SquadFeaturesFile, RoundTripKeepsTeacherLogits) {
  SquadFeatures f = sample();
  for (int i = 0; i < 24; ++i) {
    f.teacher_start_logits.push_back(0.5f * i);
    f.teacher_end_logits.push_back(-0.25f * i);
  }
  write_squad_features(dir_ / "f.h5", f);
  const SquadFeatures r = read_squad_features(dir_ / "f.h5");
  EXPECT_EQ(r.teacher_start_logits, f.teacher_start_logits);
  EXPECT_EQ(r.teacher_end_logits, f.teacher_end_logits);
}

TEST_F(SquadFeaturesFile, WriteLeavesOnlyTheFinalFile) {
  write_squad_features(dir_ / "f.h5", sample());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_.path())) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"f.h5"});
}

TEST_F(SquadFeaturesFile, InconsistentFeaturesAreNotWritten) {
  SquadFeatures f = sample();
  f.input_ids.pop_back();
  try {
    write_squad_features(dir_ / "f.h5", f);
    FAIL() << "inconsistent features were written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input_ids"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir_.path()));
}

TEST_F(SquadFeaturesFile, ExampleIndexOutsideTheIdsIsRejected) {
  SquadFeatures f = sample();
  f.example_index[2] = 7;
  EXPECT_THROW(f.validate(), Error);
}

TEST_F(SquadFeaturesFile, RejectsMissingFile) { expect_rejected(dir_ / "absent.h5", "not found"); }

TEST_F(SquadFeaturesFile, RejectsFileThatIsNotHdf5) {
  write_file_atomic(dir_ / "f.h5", "{\"this is\": \"json\"}");
  expect_rejected(dir_ / "f.h5", "not an HDF5 file");
}

TEST_F(SquadFeaturesFile, RejectsTruncatedFile) {
  write_squad_features(dir_ / "full.h5", sample());
  const std::string bytes = read_file(dir_ / "full.h5");
  for (size_t keep : {size_t{600}, bytes.size() / 2, bytes.size() - 16}) {
    write_file_atomic(dir_ / "cut.h5", std::string_view(bytes).substr(0, keep));
    expect_rejected(dir_ / "cut.h5", "");
    try {
      read_squad_features(dir_ / "cut.h5");
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("damaged") != std::string::npos) << msg;
    }
  }
}

TEST_F(SquadFeaturesFile, RejectsForeignFormatAttribute) {
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "format") return false;
    file.set_attribute("format", std::string("something-else"));
    return true;
  });
  expect_rejected(dir_ / "f.h5", "format is 'something-else', expected 'fastbert-squad-features'");
}

TEST_F(SquadFeaturesFile, RejectsFileWithoutFormatAttribute) {
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File&, const std::string& name) { return name == "format"; });
  expect_rejected(dir_ / "f.h5", "no 'format' attribute");
}

TEST_F(SquadFeaturesFile, RejectsUnknownVersion) {
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "version") return false;
    file.set_attribute("version", int64_t{9});
    return true;
  });
  expect_rejected(dir_ / "f.h5", "version 9 is not supported");
}

TEST_F(SquadFeaturesFile, RejectsMissingDataset) {
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File&, const std::string& name) { return name == "offsets"; });
  expect_rejected(dir_ / "f.h5", "missing dataset 'offsets'");
}

TEST_F(SquadFeaturesFile, RejectsWrongDtype) {
  const SquadFeatures f = sample();
  write_custom(dir_ / "f.h5", f, [&](hdf5::File& file, const std::string& name) {
    if (name != "input_ids") return false;
    std::vector<int64_t> wide(f.input_ids.begin(), f.input_ids.end());
    file.write("input_ids", wide, {3, 8});
    return true;
  });
  expect_rejected(dir_ / "f.h5", "dataset 'input_ids' has type int64, expected int32");
}

TEST_F(SquadFeaturesFile, RejectsWrongShape) {
  const SquadFeatures f = sample();
  write_custom(dir_ / "f.h5", f, [&](hdf5::File& file, const std::string& name) {
    if (name != "attention_mask") return false;
    file.write("attention_mask", f.attention_mask, {4, 6});
    return true;
  });
  expect_rejected(dir_ / "f.h5", "dataset 'attention_mask' has shape [4,6], expected [3,8]");
}

TEST_F(SquadFeaturesFile, RejectsExampleIdsThatAreNotStrings) {
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "example_ids") return false;
    file.write("example_ids", std::vector<int32_t>{1, 2}, {2});
    return true;
  });
  expect_rejected(dir_ / "f.h5", "expected variable-length string");
}

TEST_F(SquadFeaturesFile, LogitsRoundTrip) {
  SquadLogits l;
  l.max_seq = 4;
  l.start_logits = {1, 2, 3, 4, 5, 6, 7, 8};
  l.end_logits = {-1, -2, -3, -4, -5, -6, -7, -8};
  write_squad_logits(dir_ / "l.h5", l);
  const SquadLogits r = read_squad_logits(dir_ / "l.h5");
  EXPECT_EQ(r.max_seq, 4);
  EXPECT_EQ(r.num_windows(), 2);
  EXPECT_EQ(r.start_logits, l.start_logits);
  EXPECT_EQ(r.end_logits, l.end_logits);
}

TEST_F(SquadFeaturesFile, FeaturesFileIsNotAcceptedAsLogits) {
  write_squad_features(dir_ / "f.h5", sample());
  try {
    read_squad_logits(dir_ / "f.h5");
    FAIL() << "features file accepted as logits";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected 'fastbert-logits'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fastbert
