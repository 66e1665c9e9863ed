// libFuzzer target for the .fbm loader: any byte string, written to a file,
// must either open (and then every dataset it lists must be readable in
// bounds) or be refused with fastbert::Error. Build with -DFASTBERT_FUZZ=ON
// (clang); scripts/fuzz-fbm.sh runs it for a bounded time from real exports.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/runtime/fbm_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("fbm-fuzz-" + std::to_string(::getpid()) + ".fbm")).string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    auto file = fastbert::fbm::FbmFile::open(path);
    // Reading what the engine reads first: ASan flags any view past the mapping.
    const auto& c = file->config();
    auto word = file->array<float>("embeddings/word", {c.vocab_size, c.hidden_size});
    volatile float sink = 0;
    for (int64_t i = 0; i < word.size(); i += 97) sink = sink + word.data[i];
    (void)file->linear_format(0, "query");
  } catch (const fastbert::Error&) {
  }
  return 0;
}
