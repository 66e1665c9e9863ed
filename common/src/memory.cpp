#include "fastbert/common/memory.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "fastbert/common/error.h"

namespace fastbert {

uint64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

void check_memory_fits(const std::string& what, double bytes) {
  const uint64_t available = available_memory_bytes();
  if (available == 0 || bytes <= static_cast<double>(available)) return;
  char msg[160];
  std::snprintf(msg, sizeof msg, " needs about %.1f GiB of memory, but only %.1f GiB are available (MemAvailable in /proc/meminfo)",
                bytes / double(1ull << 30), static_cast<double>(available) / double(1ull << 30));
  throw Error(what + msg);
}

}  // namespace fastbert
