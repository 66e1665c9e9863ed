#pragma once
// The API key of `--api-key-file`, and its comparison in constant time.
#include <filesystem>
#include <string>
#include <string_view>

namespace fastbert::serve {

// The file's first line (a trailing newline and surrounding whitespace
// dropped). Throws fastbert::Error naming the file when it cannot be read or
// holds no key.
std::string read_api_key_file(const std::filesystem::path& path);

// Whether `given` equals `expected`, in a time that depends only on the
// length of `expected` (not on where `given` differs), so a client cannot
// find the key byte by byte from response times.
bool equal_in_constant_time(std::string_view given, std::string_view expected);

}  // namespace fastbert::serve
