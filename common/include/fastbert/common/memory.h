#pragma once
#include <cstdint>
#include <string>

namespace fastbert {

// MemAvailable from /proc/meminfo: what this machine can still allocate
// without swapping; 0 when it cannot be read.
uint64_t available_memory_bytes();

// Throws fastbert::Error("WHAT needs about X GiB of memory, but only Y GiB are
// available (MemAvailable in /proc/meminfo)") when `bytes` exceeds what is
// available, so an impossible size is refused before anything is allocated
// instead of swapping or running for minutes. `bytes` is a double so that an
// estimate from user-given sizes cannot overflow. Unknown availability passes.
void check_memory_fits(const std::string& what, double bytes);

}  // namespace fastbert
