#pragma once
// CLI11 validators that apply fastbert's one range rule
// (fastbert/common/bounded_number.h) to an option's text before CLI11
// converts it, so that "--threads 100000", "--threads -1" and "--batch -1"
// are refused before any work with "--threads: 100000 is out of range
// [0, 1024]" (CLI11 prefixes the option's name).
#include <CLI/CLI.hpp>
#include <cstdint>

#include "fastbert/common/limits.h"

namespace fastbert::cli {

CLI::Validator integer_in(int64_t min, int64_t max);
CLI::Validator number_in(double min, double max);
// [0, kMaxThreads]; 0 = all cores.
CLI::Validator thread_count();

}  // namespace fastbert::cli
