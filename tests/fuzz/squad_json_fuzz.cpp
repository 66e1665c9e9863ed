// libFuzzer target for the SQuAD JSON reader (prepare, eval, calibration data).
#include <cstddef>
#include <cstdint>

#include "fastbert/common/error.h"
#include "fastbert/runtime/squad/squad_dataset.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const fastbert::SquadDataset d = fastbert::read_squad(fastbert::fuzz::input_file(data, size, "squad.json"));
    for (const auto& q : d.questions)
      if (q.context < 0 || static_cast<size_t>(q.context) >= d.contexts.size()) __builtin_trap();
  } catch (const fastbert::Error&) {
  }
  return 0;
}
