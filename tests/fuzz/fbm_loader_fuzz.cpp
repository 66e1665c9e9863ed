// libFuzzer target for the .fbm loader: any byte string, written to a file,
// must either open (and then every dataset it lists must be readable in
// bounds) or be refused with fastbert::Error. Build with -DFASTBERT_FUZZ=ON
// (clang); scripts/fuzz.sh runs it for a bounded time from real exports. The
// custom mutator keeps the checksums valid, so inputs reach the checks behind
// them (a checksum proves nothing against an attacker).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/runtime/fbm_file.h"
#include "fuzz_support.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  return fastbert::fuzz::mutate_hdf5_file(data, size, max_size, seed, fastbert::fbm::kFileKind);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path path = fastbert::fuzz::input_file(data, size, "input.fbm");
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
