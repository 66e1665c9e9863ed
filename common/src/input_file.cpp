#include "fastbert/common/input_file.h"

#include <cerrno>
#include <system_error>

#include "fastbert/common/error.h"

namespace fastbert {
namespace fs = std::filesystem;

void require_regular_file(const fs::path& path, const std::string& what) {
  const std::string src = path.string();
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec) {
    if (ec.value() == ELOOP) throw Error(src + ": not a " + what + " (a symlink loop)");
    if (ec.value() != ENOENT && ec.value() != ENOTDIR) throw Error(src + ": cannot read the " + what + " (" + ec.message() + ")");
  }
  switch (st.type()) {
    case fs::file_type::regular: return;
    case fs::file_type::not_found: {
      std::error_code lec;
      if (fs::is_symlink(fs::symlink_status(path, lec)))
        throw Error(src + ": no such " + what + " (a symlink to a missing file)");
      throw Error(src + ": no such " + what);
    }
    case fs::file_type::directory: throw Error(src + ": expected a " + what + ", found a directory");
    case fs::file_type::fifo: throw Error(src + ": expected a " + what + ", found a FIFO (named pipe)");
    case fs::file_type::socket: throw Error(src + ": expected a " + what + ", found a socket");
    case fs::file_type::block:
    case fs::file_type::character: throw Error(src + ": expected a " + what + ", found a device");
    default: throw Error(src + ": expected a " + what + ", found something that is not a regular file");
  }
}

}  // namespace fastbert
