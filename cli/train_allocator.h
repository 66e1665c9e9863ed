#pragma once
#include <string>

namespace fastbert::cli {

// "heap 3104 MB live, 4020 MB resident": jemalloc's own count of the bytes
// the program holds (stats.allocated) and of the pages it keeps mapped
// (stats.resident), refreshed on each call. A gap that grows from one
// progress line to the next is fragmentation; live bytes that grow are the
// program's. Thread-safe (mallctl is); costs microseconds.
std::string allocator_memory_note();

}  // namespace fastbert::cli
