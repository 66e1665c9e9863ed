// libFuzzer target for the tokenized-data reader (read_squad_features): any
// byte string must be refused with fastbert::Error or read into features
// that validate and fit the model limits given. The custom mutator keeps the
// header's checksums valid, so inputs reach libhdf5 and the checks behind it.
#include <cstddef>
#include <cstdint>

#include "fastbert/common/error.h"
#include "fastbert/formats/squad_features.h"
#include "fuzz_support.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  return fastbert::fuzz::mutate_hdf5_file(data, size, max_size, seed, fastbert::kSquadFeaturesFileKind);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const fastbert::SquadFeatures f =
        fastbert::read_squad_features(fastbert::fuzz::input_file(data, size, "features.h5"), {64, 2, 64});
    // What the readers do next: index the ids of every window.
    volatile size_t sink = 0;
    for (int64_t i = 0; i < f.num_windows(); ++i) sink = sink + f.example_ids[f.example_index[i]].size();
  } catch (const fastbert::Error&) {
  }
  return 0;
}
