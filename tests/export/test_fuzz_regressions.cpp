// Replays every crash input the libFuzzer targets found (scripts/fuzz.sh
// keeps them in tests/fuzz/regressions/<target>/) through the same reader in
// the regular build: each must now be refused with fastbert::Error or read
// without a crash (under scripts/test-sanitize.sh, without a memory error).
// The .fbm inputs go through the whole Engine, which the fuzz build (no
// kernels) cannot reach. Kept fbm_loader_fuzz inputs:
//   hdf5-vlen-global-heap-segv: HDF5 1.10 read a corrupt global heap behind a
//     variable-length string (no fastbert file has such datasets now);
//   dataset-extent-overflows-mapping: a shape whose byte count wrapped around
//     passed the bounds check and the checksum read past the mapping;
//   hdf5-header-huge-allocation: HDF5 asked malloc for terabytes;
//   hdf5-H5Aexists-heap-overflow: libhdf5 1.10 read past a heap buffer inside
//     H5Aexists on a corrupt object header; the file header's checksum now
//     refuses damaged files before libhdf5 sees them.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/export/checkpoint_reader.h"
#include "fastbert/formats/safetensors.h"
#include "fastbert/formats/squad_features.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_dataset.h"
#include "test_dir.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

TEST(FuzzRegressions, EveryKeptCrashInputIsRefusedOrReadWithoutCrashing) {
  testing::TestDir dir("fastbert-test-fuzz-regressions");
  const std::map<std::string, std::function<void(const fs::path&)>> readers = {
      {"fbm_loader_fuzz", [](const fs::path& p) { Engine engine(p); }},
      {"squad_features_fuzz", [](const fs::path& p) { read_squad_features(p, {64, 2, 64}); }},
      {"squad_logits_fuzz", [](const fs::path& p) { read_squad_logits(p); }},
      {"safetensors_fuzz", [](const fs::path& p) { read_safetensors(p); }},
      {"squad_json_fuzz", [](const fs::path& p) { read_squad(p); }},
      {"quantization_json_fuzz",
       [&](const fs::path& p) {
         const fs::path ckpt = dir / "ckpt";
         fs::create_directories(ckpt);
         write_file_atomic(ckpt / "config.json",
                           R"({"vocab_size": 8, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1,
                               "intermediate_size": 4, "max_position_embeddings": 8, "type_vocab_size": 2})");
         write_file_atomic(ckpt / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n");
         SafetensorsFile st;
         st.add({"x", SafetensorsDType::F32, {1}, std::string(4, '\0')});
         write_safetensors(ckpt / "model.safetensors", st);
         fs::copy_file(p, ckpt / "quantization.json", fs::copy_options::overwrite_existing);
         read_checkpoint(ckpt);
       }},
  };
  int replayed = 0;
  const fs::path root = fs::path(FASTBERT_SOURCE_DIR) / "tests/fuzz/regressions";
  for (const auto& target : fs::directory_iterator(root)) {
    ASSERT_TRUE(target.is_directory()) << target.path() << ": keep crash inputs in regressions/<target>/";
    const std::string name = target.path().filename().string();
    if (name == "recipe_fuzz") continue;  // training-side code, not linked here; no input kept so far
    auto reader = readers.find(name);
    ASSERT_NE(reader, readers.end()) << "no reader for " << name;
    for (const auto& input : fs::directory_iterator(target.path())) {
      try {
        reader->second(input.path());
      } catch (const Error&) {
      }
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 4);
}

}  // namespace
}  // namespace fastbert
