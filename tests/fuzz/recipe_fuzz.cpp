// libFuzzer target for the recipe reader (YAML + validation). It is on the
// training side, but recipe.cpp itself needs only yaml-cpp and the BERT
// config reader, so it is fuzzed without LibTorch.
#include <cstddef>
#include <cstdint>

#include "fastbert/common/error.h"
#include "fastbert/train/recipe.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)fastbert::Recipe::load(fastbert::fuzz::input_file(data, size, "recipe.yaml"));
  } catch (const fastbert::Error&) {
  }
  return 0;
}
