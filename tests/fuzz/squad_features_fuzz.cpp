// libFuzzer target for the tokenized-data readers (read_squad_features and the
// training side's batch reader, SquadFeaturesReader): any byte string must be
// refused with fastbert::Error or read into features that validate and fit
// the model limits given, and the two must agree on which. The custom mutator keeps the
// header's checksums valid, so inputs reach libhdf5 and the checks behind it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/formats/squad_features.h"
#include "fuzz_support.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  return fastbert::fuzz::mutate_hdf5_file(data, size, max_size, seed, fastbert::kSquadFeaturesFileKind);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fastbert::fuzz::input_file(data, size, "features.h5");
  bool whole_ok = false, batches_ok = false;
  try {
    const fastbert::SquadFeatures f = fastbert::read_squad_features(path, {64, 2, 64});
    // What the readers do next: index the ids of every window.
    volatile size_t sink = 0;
    for (int64_t i = 0; i < f.num_windows(); ++i) sink = sink + f.example_ids[f.example_index[i]].size();
    whole_ok = true;
  } catch (const fastbert::Error&) {
  }
  try {
    const fastbert::SquadFeaturesReader r = fastbert::SquadFeaturesReader::open(path, {64, 2, 64});
    // What the trainer does next: read batches, here every window backwards.
    std::vector<int64_t> rows;
    for (int64_t w = r.num_windows(); w-- > 0;) rows.push_back(w);
    const fastbert::SquadFeatures b = r.read(rows);
    if (static_cast<int64_t>(b.input_ids.size()) != r.num_windows() * r.max_seq()) __builtin_trap();
    batches_ok = true;
  } catch (const fastbert::Error&) {
  }
  if (whole_ok != batches_ok) __builtin_trap();  // one reader accepted what the other refused
  return 0;
}
