// libFuzzer target for the logits reader (read_squad_logits): refused with
// fastbert::Error or read into finite logits of a consistent shape.
#include <cstddef>
#include <cstdint>

#include "fastbert/common/error.h"
#include "fastbert/formats/squad_features.h"
#include "fuzz_support.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  return fastbert::fuzz::mutate_hdf5_file(data, size, max_size, seed, fastbert::kSquadLogitsFileKind);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const fastbert::SquadLogits l = fastbert::read_squad_logits(fastbert::fuzz::input_file(data, size, "logits.h5"));
    if (l.start_logits.size() != l.end_logits.size()) __builtin_trap();
  } catch (const fastbert::Error&) {
  }
  return 0;
}
