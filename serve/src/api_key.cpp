#include "fastbert/serve/api_key.h"

#include <fstream>
#include <sstream>

#include "fastbert/common/error.h"

namespace fastbert::serve {

std::string read_api_key_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot read the API key file");
  std::string line;
  std::getline(in, line);
  const char* space = " \t\r\n";
  const size_t first = line.find_first_not_of(space);
  if (first == std::string::npos)
    throw Error(path.string() + ": the API key file is empty; expected the key on its first line");
  return line.substr(first, line.find_last_not_of(space) - first + 1);
}

bool equal_in_constant_time(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is compared, whatever `given` holds; volatile
  // keeps the compiler from turning the loop into an early-exit comparison.
  volatile unsigned char differ = given.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    differ = differ | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return differ == 0;
}

}  // namespace fastbert::serve
