#pragma once
#include <stdexcept>
#include <string>

namespace fastbert {

// Every error a user can cause (bad file, bad recipe, bad shape) is thrown as
// this type with a message that names the file/key/value at fault; the CLI
// prints it and exits non-zero. Programming errors stay assertions.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fastbert
