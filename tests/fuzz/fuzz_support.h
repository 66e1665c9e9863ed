#pragma once
// Shared by the libFuzzer targets: the input as a file (every reader under
// test takes a path), and a structure-aware mutator for fastbert's HDF5
// files that mutates only the raw bytes of datasets and then recomputes the
// file header (size, checksums) — what an attacker can always do — so the
// fuzzer reaches the validation behind the checksum instead of stopping at it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fastbert/formats/file_header.h"

namespace fastbert::fuzz {

// Writes the input to a file of this process named `name` (the same file
// every run) and returns its path.
std::filesystem::path input_file(const uint8_t* data, size_t size, const std::string& name);

// For LLVMFuzzerCustomMutator: when the input is a consistent file of `kind`,
// mutates the raw data of one of its datasets (contiguous or chunked) and
// re-stamps the header; otherwise mutates bytes anywhere (the header check
// refuses those). Returns the new size.
size_t mutate_hdf5_file(uint8_t* data, size_t size, size_t max_size, unsigned seed, const file_header::Kind& kind);

}  // namespace fastbert::fuzz
