#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <sys/stat.h>

#include <cmath>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/formats/file_header.h"
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
    hdf5::FileOptions options;
    options.user_block_bytes = file_header::kBytes;
    hdf5::File file = hdf5::File::create(path, options);
    const int64_t n = f.num_windows(), s = f.max_seq;
    auto put = [&](const std::string& name, const std::vector<int32_t>& v, std::vector<int64_t> shape) {
      if (!skip_or_replace(file, name)) file.write(name, v, shape);
    };
    file.set_attribute("max_seq", f.max_seq);
    file.set_attribute("doc_stride", f.doc_stride);
    file.set_attribute("max_query", f.max_query);
    if (!skip_or_replace(file, "tokenizer")) file.set_attribute("tokenizer", f.tokenizer);
    put("input_ids", f.input_ids, {n, s});
    put("token_type_ids", f.token_type_ids, {n, s});
    put("attention_mask", f.attention_mask, {n, s});
    put("start_positions", f.start_positions, {n});
    put("end_positions", f.end_positions, {n});
    put("offsets", f.offsets, {n, s, 2});
    put("example_index", f.example_index, {n});
    std::vector<uint8_t> bytes;
    std::vector<int64_t> offsets{0};
    for (const std::string& id : f.example_ids) {
      bytes.insert(bytes.end(), id.begin(), id.end());
      offsets.push_back(static_cast<int64_t>(bytes.size()));
    }
    if (!skip_or_replace(file, "example_id_bytes"))
      file.write("example_id_bytes", bytes, {static_cast<int64_t>(bytes.size())});
    if (!skip_or_replace(file, "example_id_offsets"))
      file.write("example_id_offsets", offsets, {static_cast<int64_t>(offsets.size())});
    file.close();
    // A consistent header, so the checks behind the checksum run (anyone can
    // recompute a checksum).
    file_header::stamp(path, kSquadFeaturesFileKind);
  }

  // Writes `f` with one value changed by `edit` (bypassing the writer's
  // validation), consistently stamped.
  void write_edited(const fs::path& path, SquadFeatures f, const std::function<void(SquadFeatures&)>& edit) {
    edit(f);
    write_custom(path, f, [](hdf5::File&, const std::string&) { return false; });
  }

  // The read must fail with a fastbert::Error whose message holds `expected`,
  // and HDF5 must not print its error stack; the same for the batch reader
  // (SquadFeaturesReader::open), which must refuse whatever the whole-file
  // reader refuses, with the same message.
  static void expect_rejected(const fs::path& path, const std::string& expected, const ModelLimits& limits = {}) {
    const std::vector<std::pair<const char*, std::function<void()>>> readers = {
        {"read_squad_features", [&] { read_squad_features(path, limits); }},
        {"SquadFeaturesReader::open", [&] { SquadFeaturesReader::open(path, limits); }}};
    for (const auto& [name, read] : readers) {
      ::testing::internal::CaptureStderr();
      try {
        read();
        ::testing::internal::GetCapturedStderr();
        ADD_FAILURE() << name << ": no error for " << path;
      } catch (const Error& e) {
        const std::string err = ::testing::internal::GetCapturedStderr();
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << name << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << name << ": " << e.what();
        EXPECT_EQ(err, "") << name << ": HDF5 printed to stderr";
      }
    }
  }

  // `n` windows of 8 tokens over n/2 + 1 examples, every value distinct
  // and valid, with teacher logits: more than two chunks of windows for n > 512.
  static SquadFeatures many(int n) {
    SquadFeatures f;
    f.max_seq = 8;
    f.doc_stride = 3;
    f.max_query = 2;
    f.tokenizer = "wordpiece:test";
    const int s = 8;
    for (int i = 0; i < n * s; ++i) {
      f.input_ids.push_back(100 + i);
      f.token_type_ids.push_back(i % s >= 4);
      f.attention_mask.push_back(i % s < 1 + (i / s) % 7);
      f.offsets.push_back(i % s >= 4 ? i : -1);
      f.offsets.push_back(i % s >= 4 ? i + 1 : -1);
      f.teacher_start_logits.push_back(0.5f * static_cast<float>(i));
      f.teacher_end_logits.push_back(-0.25f * static_cast<float>(i));
    }
    for (int w = 0; w < n; ++w) {
      f.start_positions.push_back(w % s);
      f.end_positions.push_back(w % s);
      f.example_index.push_back(w / 2);
    }
    for (int e = 0; e <= n / 2; ++e) f.example_ids.push_back("q" + std::to_string(e));
    return f;
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

TEST_F(SquadFeaturesFile, BlocksWrittenOneByOneReadBackAsTheirConcatenation) {
  const SquadFeatures a = sample();
  SquadFeatures b = sample();
  b.input_ids.assign(b.input_ids.size(), 7);
  b.example_ids = {"q3", "q4"};
  {
    SquadFeaturesWriter writer(dir_ / "f.h5");
    writer.append(a);
    writer.append(b);
    writer.append(a);
    EXPECT_EQ(writer.num_windows(), 9);
    EXPECT_EQ(writer.num_examples(), 6);
    EXPECT_FALSE(fs::exists(dir_ / "f.h5")) << "the file appears only at finish()";
    writer.finish();
  }
  const SquadFeatures r = read_squad_features(dir_ / "f.h5");
  std::vector<int32_t> ids = a.input_ids;
  ids.insert(ids.end(), b.input_ids.begin(), b.input_ids.end());
  ids.insert(ids.end(), a.input_ids.begin(), a.input_ids.end());
  EXPECT_EQ(r.input_ids, ids);
  EXPECT_EQ(r.example_index, (std::vector<int32_t>{0, 0, 1, 2, 2, 3, 4, 4, 5}));
  EXPECT_EQ(r.example_ids, (std::vector<std::string>{"q-éa", "q2", "q3", "q4", "q-éa", "q2"}));
  EXPECT_EQ(r.offsets.size(), 3 * a.offsets.size());
}

TEST_F(SquadFeaturesFile, WriterLeavesNothingWithoutFinishAndRefusesABlockOfAnotherShape) {
  {
    SquadFeaturesWriter writer(dir_ / "f.h5");
    writer.append(sample());
    SquadFeatures other = sample();
    other.tokenizer = "wordpiece:other";
    EXPECT_THROW(writer.append(other), Error);
  }
  EXPECT_TRUE(fs::is_empty(dir_.path()));
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

TEST_F(SquadFeaturesFile, RejectsMissingFile) { expect_rejected(dir_ / "absent.h5", "no such tokenized-data file"); }

TEST_F(SquadFeaturesFile, RejectsDirectoryFifoAndSymlinkLoopWithoutOpeningThem) {
  fs::create_directories(dir_ / "d.h5");
  expect_rejected(dir_ / "d.h5", "expected a tokenized-data file, found a directory");
  ASSERT_EQ(::mkfifo((dir_ / "p.h5").c_str(), 0600), 0);
  expect_rejected(dir_ / "p.h5", "found a FIFO");  // would block forever if opened
  fs::create_symlink(dir_ / "b.h5", dir_ / "a.h5");
  fs::create_symlink(dir_ / "a.h5", dir_ / "b.h5");
  expect_rejected(dir_ / "a.h5", "symlink loop");
}

TEST_F(SquadFeaturesFile, RejectsFileThatIsNotHdf5) {
  write_file_atomic(dir_ / "f.h5", "{\"this is\": \"json\"}");
  expect_rejected(dir_ / "f.h5", "not a tokenized-data file");
}

TEST_F(SquadFeaturesFile, RejectsTruncatedFile) {
  write_squad_features(dir_ / "full.h5", sample());
  const std::string bytes = read_file(dir_ / "full.h5");
  for (size_t keep : {size_t{100}, size_t{600}, bytes.size() / 2, bytes.size() - 16}) {
    write_file_atomic(dir_ / "cut.h5", std::string_view(bytes).substr(0, keep));
    expect_rejected(dir_ / "cut.h5", "truncated tokenized-data file");
  }
}

// The class of damage that corrupted memory inside libhdf5 (an edited global
// heap, a collection size, an object header): any changed byte is refused on
// the raw bytes, before libhdf5 parses anything.
TEST_F(SquadFeaturesFile, EveryFlippedByteIsRefusedBeforeHdf5ParsesTheFile) {
  write_squad_features(dir_ / "full.h5", sample());
  const std::string bytes = read_file(dir_ / "full.h5");
  for (size_t at = 0; at < bytes.size(); at += 13) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x41);
    write_file_atomic(dir_ / "bad.h5", damaged);
    try {
      read_squad_features(dir_ / "bad.h5");
      ADD_FAILURE() << "a flipped byte at " << at << " was accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.find("checksum") != std::string::npos || msg.find("not a tokenized-data file") != std::string::npos ||
                  msg.find("header") != std::string::npos || msg.find("version") != std::string::npos ||
                  msg.find("truncated") != std::string::npos || msg.find("after its end") != std::string::npos)
          << "byte " << at << ": " << msg;
    }
  }
}

TEST_F(SquadFeaturesFile, FileOfTheOlderFormatIsRefusedAskingToRerunPrepare) {
  // Format 1: a plain HDF5 file, question ids as variable-length strings.
  const fs::path path = dir_ / "old.h5";
  {
    hdf5::File file = hdf5::File::create(path);
    file.set_attribute("format", std::string("fastbert-squad-features"));
    file.set_attribute("version", int64_t{1});
    file.close();
  }
  expect_rejected(path, "written by an older fastbert");
  expect_rejected(path, "re-run fastbert prepare");
}

TEST_F(SquadFeaturesFile, LogitsFileIsNotAcceptedAsFeatures) {
  SquadLogits l;
  l.max_seq = 8;
  l.start_logits.assign(24, 1.f);
  l.end_logits.assign(24, 2.f);
  write_squad_logits(dir_ / "l.h5", l);
  expect_rejected(dir_ / "l.h5", "not a tokenized-data file");
}

TEST_F(SquadFeaturesFile, DatasetsAreChunkedByWindowsSoBatchesCanBeReadAlone) {
  SquadFeatures f = sample();
  write_squad_features(dir_ / "f.h5", f);
  const hid_t file = H5Fopen((dir_ / "f.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask", "offsets", "start_positions"}) {
    const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    const hid_t dcpl = H5Dget_create_plist(ds);
    EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED) << name;
    hsize_t chunk[3] = {};
    H5Pget_chunk(dcpl, 3, chunk);
    EXPECT_EQ(chunk[0], 3u) << name << ": all 3 windows in one chunk (at most kWindowsPerChunk)";
    H5Pclose(dcpl);
    H5Dclose(ds);
  }
  H5Fclose(file);
}

TEST_F(SquadFeaturesFile, RejectsVariableLengthStringAttribute) {
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "tokenizer") return false;
    // A second handle on the file `file` is writing (libhdf5 shares it):
    // fastbert's wrapper writes no variable-length strings.
    const hid_t fid = H5Fopen(file.path().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t root = H5Gopen2(fid, "/", H5P_DEFAULT);
    const hid_t attr = H5Acreate2(root, "tokenizer", type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* value = "wordpiece";
    H5Awrite(attr, type, &value);
    H5Aclose(attr);
    H5Gclose(root);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(fid);
    return true;
  });
  expect_rejected(dir_ / "f.h5", "attribute 'tokenizer' is a variable-length string");
}

TEST_F(SquadFeaturesFile, DatasetLargerThanTheFileIsRefusedBeforeAnyAllocation) {
  // A chunked dataset of 2^40 windows with no chunk written: valid HDF5, and
  // reading it would ask for 32 TiB.
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "start_positions") return false;
    const hid_t fid = H5Fopen(file.path().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[1] = {hsize_t{1} << 40}, chunk[1] = {256};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    const hid_t ds = H5Dcreate2(fid, "start_positions", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(fid);
    return true;
  });
  expect_rejected(dir_ / "f.h5", "dataset 'start_positions' has shape [1099511627776], larger than the file");
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

TEST_F(SquadFeaturesFile, RejectsExampleIdOffsetsThatDoNotFitTheBytes) {
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "example_id_offsets") return false;
    file.write("example_id_offsets", std::vector<int64_t>{0, 5, 1000}, {3});
    return true;
  });
  expect_rejected(dir_ / "f.h5", "'example_id_offsets' ends at 1000, but 'example_id_bytes' holds 7 bytes");
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "example_id_offsets") return false;
    file.write("example_id_offsets", std::vector<int64_t>{0, 9, 7}, {3});
    return true;
  });
  expect_rejected(dir_ / "f.h5", "'example_id_offsets' decreases at 2 (9 then 7)");
  write_custom(dir_ / "f.h5", sample(), [](hdf5::File& file, const std::string& name) {
    if (name != "example_id_offsets") return false;
    file.write("example_id_offsets", std::vector<int64_t>{}, {0});
    return true;
  });
  expect_rejected(dir_ / "f.h5", "'example_id_offsets' must start with 0");
}

TEST_F(SquadFeaturesFile, RejectsValuesNoWriterProduces) {
  write_edited(dir_ / "f.h5", sample(), [](SquadFeatures& f) { f.attention_mask[9] = 7; });
  expect_rejected(dir_ / "f.h5", "attention_mask[window 1, token 1] is 7, expected 0 or 1");
  write_edited(dir_ / "f.h5", sample(), [](SquadFeatures& f) { f.input_ids[3] = -2; });
  expect_rejected(dir_ / "f.h5", "input_ids[window 0, token 3] is negative (-2)");
  write_edited(dir_ / "f.h5", sample(), [](SquadFeatures& f) { f.offsets[2 * 12] = 50; });
  expect_rejected(dir_ / "f.h5", "offsets[window 1, token 4] is [50, 13), expected -1,-1 or 0 <= begin <= end");
  write_edited(dir_ / "f.h5", sample(), [](SquadFeatures& f) { f.end_positions[2] = 8; });
  expect_rejected(dir_ / "f.h5", "answer position of window 2 (5..8) is outside [0, max_seq 8)");
  write_edited(dir_ / "f.h5", sample(), [](SquadFeatures& f) { f.example_index[1] = 2; });
  expect_rejected(dir_ / "f.h5", "example_index[1] = 2 is outside the 2 example ids");
}

TEST_F(SquadFeaturesFile, TokenIdsBeyondTheModelsVocabularyAreRefusedNamingTheWindow) {
  write_squad_features(dir_ / "f.h5", sample());  // ids 100..123
  EXPECT_NO_THROW(read_squad_features(dir_ / "f.h5", ModelLimits{124, 2, 512}));
  expect_rejected(dir_ / "f.h5",
                  "input_ids[window 2, token 7] is 123, not below the model's vocab_size 123; the file was prepared "
                  "for another model",
                  ModelLimits{123, 2, 512});
  expect_rejected(dir_ / "f.h5", "token_type_ids[window 0, token 4] is 1, not below the model's type_vocab_size 1",
                  ModelLimits{30522, 1, 512});
  expect_rejected(dir_ / "f.h5", "windows of max_seq 8 tokens are longer than the model's 6 positions",
                  ModelLimits{30522, 2, 6});
}

TEST_F(SquadFeaturesFile, BatchReaderGivesTheWindowsAskedForInTheirOrderAsTheWholeFileHoldsThem) {
  const SquadFeatures f = many(700);
  write_squad_features(dir_ / "f.h5", f);
  const SquadFeaturesReader reader = SquadFeaturesReader::open(dir_ / "f.h5");
  ASSERT_EQ(reader.num_windows(), 700);
  EXPECT_EQ(reader.max_seq(), 8);
  EXPECT_EQ(reader.num_examples(), 351);
  EXPECT_TRUE(reader.has_teacher_logits());
  EXPECT_EQ(reader.start_positions(), f.start_positions);
  for (int w = 0; w < 700; ++w)
    ASSERT_EQ(reader.real_tokens()[w], 1 + w % 7) << "window " << w;
  const std::vector<int64_t> rows = {699, 0, 300, 256, 255, 511, 512, 0};
  const SquadFeatures b = reader.read(rows);
  ASSERT_EQ(b.input_ids.size(), rows.size() * 8);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto at = [&](const std::vector<int32_t>& v) {
      return std::vector<int32_t>(v.begin() + rows[i] * 8, v.begin() + (rows[i] + 1) * 8);
    };
    const auto got = [&](const std::vector<int32_t>& v) {
      return std::vector<int32_t>(v.begin() + static_cast<int64_t>(i) * 8, v.begin() + static_cast<int64_t>(i + 1) * 8);
    };
    EXPECT_EQ(got(b.input_ids), at(f.input_ids)) << "row " << rows[i];
    EXPECT_EQ(got(b.token_type_ids), at(f.token_type_ids)) << "row " << rows[i];
    EXPECT_EQ(got(b.attention_mask), at(f.attention_mask)) << "row " << rows[i];
    EXPECT_EQ(b.start_positions[i], f.start_positions[rows[i]]);
    EXPECT_EQ(b.end_positions[i], f.end_positions[rows[i]]);
    EXPECT_EQ(b.teacher_start_logits[i * 8 + 3], f.teacher_start_logits[rows[i] * 8 + 3]);
    EXPECT_EQ(b.teacher_end_logits[i * 8 + 7], f.teacher_end_logits[rows[i] * 8 + 7]);
  }
}

TEST_F(SquadFeaturesFile, BatchReaderNamesTheDamagedWindowBeyondItsFirstBlockOfWindows) {
  write_edited(dir_ / "f.h5", many(700), [](SquadFeatures& f) { f.attention_mask[600 * 8 + 2] = 3; });
  expect_rejected(dir_ / "f.h5", "attention_mask[window 600, token 2] is 3, expected 0 or 1");
  write_edited(dir_ / "f.h5", many(700), [](SquadFeatures& f) { f.example_index[650] = 400; });
  expect_rejected(dir_ / "f.h5", "example_index[650] = 400 is outside the 351 example ids");
  write_squad_features(dir_ / "f.h5", many(700));
  expect_rejected(dir_ / "f.h5", "input_ids[window 513, token 0] is 4204, not below the model's vocab_size 4204",
                  ModelLimits{4204, 2, 512});
}

TEST_F(SquadFeaturesFile, BatchReaderRefusesAWindowOutsideTheFile) {
  write_squad_features(dir_ / "f.h5", many(10));
  const SquadFeaturesReader reader = SquadFeaturesReader::open(dir_ / "f.h5");
  try {
    reader.read({3, 10});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 10 is outside dataset 'input_ids' of 10 rows"), std::string::npos)
        << e.what();
  }
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

TEST_F(SquadFeaturesFile, LogitsWrittenByH5pyWithAVariableLengthStringAttributeAreRead) {
  // What h5py writes by default: float32 datasets, contiguous, and a Python
  // str attribute as a variable-length UTF-8 string. The reader needs no
  // attribute to score, so it opens none (variable-length strings are never
  // read: libhdf5 1.10 trusts their global heap).
  const fs::path path = dir_ / "l.h5";
  {
    hdf5::FileOptions options;
    options.user_block_bytes = file_header::kBytes;
    hdf5::File file = hdf5::File::create(path, options);
    file.write("start_logits", std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    file.write("end_logits", std::vector<float>{6, 5, 4, 3, 2, 1}, {2, 3});
    const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t root = H5Gopen2(fid, "/", H5P_DEFAULT);
    const hid_t attr = H5Acreate2(root, "engine", type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* value = "onnxruntime é";
    ASSERT_GE(H5Awrite(attr, type, &value), 0);
    H5Aclose(attr);
    H5Gclose(root);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(fid);
    file.close();
  }
  file_header::stamp(path, kSquadLogitsFileKind);
  const SquadLogits r = read_squad_logits(path);
  EXPECT_EQ(r.max_seq, 3);
  EXPECT_EQ(r.start_logits, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.end_logits, (std::vector<float>{6, 5, 4, 3, 2, 1}));
}

TEST_F(SquadFeaturesFile, FeaturesFileIsNotAcceptedAsLogits) {
  write_squad_features(dir_ / "f.h5", sample());
  try {
    read_squad_logits(dir_ / "f.h5");
    FAIL() << "features file accepted as logits";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a logits file"), std::string::npos) << e.what();
  }
}

TEST_F(SquadFeaturesFile, NonFiniteLogitsAreRefusedNamingTheCell) {
  SquadLogits l;
  l.max_seq = 4;
  l.start_logits = {1, 2, 3, 4, 5, 6, 7, 8};
  l.end_logits = {1, 2, 3, 4, 5, 6, std::nanf(""), 8};
  write_squad_logits(dir_ / "l.h5", l);
  try {
    read_squad_logits(dir_ / "l.h5");
    FAIL() << "NaN logits accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("end_logits[window 1, token 2] is nan, expected a finite number"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fastbert
