// libFuzzer target for quantization.json as export reads it: the input is the
// quantization.json of a small, otherwise valid checkpoint.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/export/checkpoint_reader.h"
#include "fastbert/formats/safetensors.h"

namespace {
std::filesystem::path checkpoint_dir() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("fastbert-fuzz-ckpt-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fastbert::write_file_atomic(dir / "config.json",
                              R"({"vocab_size": 8, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1,
                                  "intermediate_size": 4, "max_position_embeddings": 8, "type_vocab_size": 2})");
  fastbert::write_file_atomic(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\nc\nd\n");
  fastbert::SafetensorsFile st;
  st.add({"x", fastbert::SafetensorsDType::F32, {1}, std::string(4, '\0')});
  fastbert::write_safetensors(dir / "model.safetensors", st);
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = checkpoint_dir();
  {
    std::ofstream out(dir / "quantization.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const fastbert::Checkpoint c = fastbert::read_checkpoint(dir);
    for (const auto& [name, q] : c.quantization)
      if (!(q.input_scale > 0) || q.input_zero_point < 0 || q.input_zero_point > 255) __builtin_trap();
  } catch (const fastbert::Error&) {
  }
  return 0;
}
