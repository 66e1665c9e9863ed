// libFuzzer target for the safetensors parser (checkpoints, masks).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fastbert/common/error.h"
#include "fastbert/formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const fastbert::SafetensorsFile f =
        fastbert::parse_safetensors(std::string_view(reinterpret_cast<const char*>(data), size), "input");
    for (const auto& t : f.tensors)
      if (t.data.size() != static_cast<size_t>(t.numel()) * fastbert::dtype_size(t.dtype)) __builtin_trap();
  } catch (const fastbert::Error&) {
  }
  return 0;
}
