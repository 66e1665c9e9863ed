// Models crafted by someone who recomputes the checksums: every size, index
// and number the runtime reads is validated before a kernel sees it (issue
// 13, class 2), and the export refuses what the runtime would refuse, so an
// export that succeeds always loads (class 9).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/export/fbm_export.h"
#include "fastbert/formats/hdf5.h"
#include "fastbert/formats/safetensors.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/formats/fbm_format.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using testing::TinyBert;

class CraftedModel : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_unique<TinyBert>(testing::block_sparse_spec(0.8));
    model_->write_calibrated_checkpoint(dir_ / "ckpt", 3, 32, 1);
  }

  fs::path export_model(ExportPrecision precision) {
    ExportOptions o;
    o.precision = precision;
    o.sparse_threshold = 0.5;
    export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
    return dir_ / "m.fbm";
  }

  // Edits element `index` of the contiguous dataset `name` in place, then
  // recomputes the file's checksums: what an attacker can always do.
  template <class T>
  static void set_value(const fs::path& m, const std::string& name, int64_t index, T value) {
    int64_t offset = 0;
    {
      hdf5::File f = hdf5::File::open(m);
      offset = f.dataset_offset(name);
      ASSERT_LT(index, f.dataset_info(name).num_elements()) << name;
    }
    std::fstream io(m, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(offset + index * static_cast<int64_t>(sizeof(T)));
    io.write(reinterpret_cast<const char*>(&value), sizeof(T));
    io.close();
    fbm::stamp_file(m);
  }
  template <class T>
  static T get_value(const fs::path& m, const std::string& name, int64_t index) {
    hdf5::File f = hdf5::File::open(m);
    std::ifstream in(m, std::ios::binary);
    in.seekg(f.dataset_offset(name) + index * static_cast<int64_t>(sizeof(T)));
    T v{};
    in.read(reinterpret_cast<char*>(&v), sizeof(T));
    return v;
  }

  static std::string load_error(const fs::path& m) {
    try {
      Engine engine(m);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  void edit_quantization(const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(read_file(dir_ / "ckpt" / "quantization.json"));
    for (auto& layer : j["layers"].items())
      if (layer.key().find("layer.0.attention.self.query") != std::string::npos) edit(layer.value());
    write_file_atomic(dir_ / "ckpt" / "quantization.json", j.dump());
  }

  std::string export_error() {
    try {
      export_model(ExportPrecision::int8);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  testing::TestDir dir_{"fastbert-test-crafted"};
  std::unique_ptr<TinyBert> model_;
};

const std::string kQuery = "encoder/layer_0/query/";

TEST_F(CraftedModel, ChunkStartRaisedBy2To62WithValidChecksumsIsRefusedBeforeTheKernel) {
  const fs::path m = export_model(ExportPrecision::int8);
  ASSERT_EQ(load_error(m), "");
  // 64 rows: 16 groups, so group_chunk_begin has 17 entries. Raising the last
  // makes 4*chunks+4 and 16*chunks wrap back to the real array sizes.
  const int64_t last = get_value<int64_t>(m, kQuery + "group_chunk_begin", 16);
  set_value<int64_t>(m, kQuery + "group_chunk_begin", 16, last + (int64_t{1} << 62));
  std::string e = load_error(m);
  EXPECT_NE(e.find(kQuery + "group_chunk_begin gives group 15 4611686018427"), std::string::npos) << e;
  EXPECT_NE(e.find("64 input columns allow at most 16"), std::string::npos) << e;
  // The same raise in the middle: group 7 claims 2^62 chunks (and the starts
  // then decrease at group 9).
  set_value<int64_t>(m, kQuery + "group_chunk_begin", 16, last);
  const int64_t mid = get_value<int64_t>(m, kQuery + "group_chunk_begin", 8);
  set_value<int64_t>(m, kQuery + "group_chunk_begin", 8, mid + (int64_t{1} << 62));
  e = load_error(m);
  EXPECT_NE(e.find(kQuery + "group_chunk_begin gives group 7 4611686018427"), std::string::npos) << e;
}

TEST_F(CraftedModel, ColumnIndexOutsideTheInputIsRefused) {
  const fs::path m = export_model(ExportPrecision::int8);
  set_value<int32_t>(m, kQuery + "columns", 2, 64);
  const std::string e = load_error(m);
  EXPECT_NE(e.find(kQuery + "columns[2] is 64, outside 0..63"), std::string::npos) << e;
}

TEST_F(CraftedModel, RowSumThatDisagreesWithTheWeightsIsRefused) {
  const fs::path m = export_model(ExportPrecision::int8);
  const int32_t sum = get_value<int32_t>(m, kQuery + "row_sums", 5);
  set_value<int32_t>(m, kQuery + "row_sums", 5, sum + 1);
  const std::string e = load_error(m);
  EXPECT_NE(e.find(kQuery + "row_sums[5] is " + std::to_string(sum + 1) + ", the row's weights sum to " +
                   std::to_string(sum)),
            std::string::npos)
      << e;
}

TEST_F(CraftedModel, NonzeroBlockCountBeyondTheChunksIsRefused) {
  const fs::path m = export_model(ExportPrecision::int8);
  set_value<int64_t>(m, kQuery + "nonzero_blocks", 0, std::numeric_limits<int64_t>::max());
  EXPECT_NE(load_error(m).find(kQuery + "nonzero_blocks is 9223372036854775807"), std::string::npos) << load_error(m);
}

TEST_F(CraftedModel, NegativeNaNOrInfiniteScalesAreRefusedNamingTheLayer) {
  const fs::path m = export_model(ExportPrecision::int8);
  set_value<float>(m, kQuery + "weight_scales", 3, -0.5f);
  EXPECT_NE(load_error(m).find(kQuery + "weight_scales[3] is -0.5"), std::string::npos) << load_error(m);
  set_value<float>(m, kQuery + "weight_scales", 3, std::nanf(""));
  EXPECT_NE(load_error(m).find("dataset '" + kQuery + "weight_scales' holds NaN at index 3"), std::string::npos)
      << load_error(m);
  set_value<float>(m, kQuery + "weight_scales", 3, 0.01f);
  set_value<float>(m, kQuery + "input_scale", 0, std::numeric_limits<float>::infinity());
  EXPECT_NE(load_error(m).find("dataset '" + kQuery + "input_scale' holds an infinite value"), std::string::npos)
      << load_error(m);
  set_value<float>(m, kQuery + "input_scale", 0, 0.0f);
  EXPECT_NE(load_error(m).find(kQuery + "input_scale is 0"), std::string::npos) << load_error(m);
}

TEST_F(CraftedModel, NaNWeightOrBiasIsRefusedNamingTheDataset) {
  const fs::path m = export_model(ExportPrecision::fp32);
  set_value<float>(m, "encoder/layer_1/intermediate/weight", 77, std::nanf(""));
  EXPECT_NE(load_error(m).find("dataset 'encoder/layer_1/intermediate/weight' holds NaN at index 77"),
            std::string::npos)
      << load_error(m);
  set_value<float>(m, "encoder/layer_1/intermediate/weight", 77, 0.f);
  set_value<float>(m, "encoder/layer_0/output/bias", 1, -std::numeric_limits<float>::infinity());
  EXPECT_NE(load_error(m).find("dataset 'encoder/layer_0/output/bias' holds an infinite value at index 1"),
            std::string::npos)
      << load_error(m);
}

// Class 9: values the runtime cannot store are refused, not changed.
TEST_F(CraftedModel, QuantizationValuesTheRuntimeCannotStoreAreRefusedAtExport) {
  edit_quantization([](nlohmann::json& l) { l["input_scale"] = 1e39; });
  EXPECT_NE(export_error().find("input_scale' is 1e+39, expected a positive number within float32 range"),
            std::string::npos)
      << export_error();
  model_->write_quantization(dir_ / "ckpt", model_->random_windows(3, 32, 1));
  edit_quantization([](nlohmann::json& l) { l["input_zero_point"] = int64_t{1} << 40; });
  EXPECT_NE(export_error().find("input_zero_point' is 1099511627776, expected an integer in 0..255"),
            std::string::npos)
      << export_error();
  edit_quantization([](nlohmann::json& l) { l["input_zero_point"] = 3.7; });
  EXPECT_NE(export_error().find("input_zero_point' is 3.7, expected an integer in 0..255"), std::string::npos)
      << export_error();
  model_->write_quantization(dir_ / "ckpt", model_->random_windows(3, 32, 1));
  edit_quantization([](nlohmann::json& l) { l["weight_scales"][2] = 1e-300; });
  EXPECT_NE(export_error().find("weight_scales[2]' is 1e-300"), std::string::npos) << export_error();
  EXPECT_FALSE(fs::exists(dir_ / "m.fbm"));
}

TEST_F(CraftedModel, QuantizationJsonThatIsADirectoryIsRefusedNotIgnored) {
  fs::remove(dir_ / "ckpt" / "quantization.json");
  fs::create_directory(dir_ / "ckpt" / "quantization.json");
  ExportOptions o;  // automatic precision: would silently become fp32
  try {
    export_fbm(dir_ / "ckpt", dir_ / "m.fbm", o);
    FAIL() << "a quantization.json directory was ignored";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("quantization.json: expected a quantization file (quantization.json), found "
                                         "a directory"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "m.fbm"));
}

TEST_F(CraftedModel, CheckpointWithANaNWeightIsRefusedAtExport) {
  SafetensorsFile st = read_safetensors(dir_ / "ckpt" / "model.safetensors");
  for (auto& t : st.tensors)
    if (t.name.find("layer.1.attention.self.key.weight") != std::string::npos) {
      const float nan = std::nanf("");
      std::memcpy(t.data.data() + 4 * 10, &nan, 4);
    }
  write_safetensors(dir_ / "ckpt" / "model.safetensors", st);
  try {
    export_model(ExportPrecision::fp32);
    FAIL() << "a NaN weight was exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer.1.attention.self.key.weight' holds NaN at index 10"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fastbert
