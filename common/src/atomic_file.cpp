#include "fastbert/common/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fastbert/common/error.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// A process killed while writing `final` (SIGKILL, a crash, the OOM killer)
// leaves "<final>.tmp-<pid>" behind — for an export's calibration, a whole
// fp32 model. Remove those whose process is gone; a live one (another run
// writing the same file) is left alone.
void remove_stale_temporaries(const fs::path& final_path) {
  const fs::path dir = final_path.has_parent_path() ? final_path.parent_path() : fs::path(".");
  const std::string prefix = final_path.filename().string() + ".tmp-";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);
    }
  }
}

}  // namespace

AtomicPath::AtomicPath(fs::path final_path) : final_(std::move(final_path)) {
  temp_ = final_;
  temp_ += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(temp_, ec);
  remove_stale_temporaries(final_);
  if (final_.has_parent_path()) fs::create_directories(final_.parent_path());
}

AtomicPath::~AtomicPath() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
}

void AtomicPath::commit() {
  if (!fs::exists(temp_)) throw Error("nothing was written to " + temp_.string());
  if (fs::is_directory(temp_)) {
    for (const auto& entry : fs::recursive_directory_iterator(temp_))
      if (entry.is_regular_file()) fsync_path(entry.path());
    std::error_code ec;
    if (fs::exists(final_)) {
      // rename() cannot replace a non-empty directory: move the old one aside
      // first so that some complete version exists at every moment.
      fs::path old = final_;
      old += ".old-" + std::to_string(::getpid());
      fs::remove_all(old, ec);
      fs::rename(final_, old);
      fs::rename(temp_, final_);
      fs::remove_all(old, ec);
    } else {
      fs::rename(temp_, final_);
    }
  } else {
    fsync_path(temp_);
    fs::rename(temp_, final_);
  }
  if (final_.has_parent_path()) fsync_path(final_.parent_path());
  committed_ = true;
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  AtomicPath out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) throw Error("cannot open " + out.temp_path().string() + " for writing: " + std::strerror(errno));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) throw Error("write to " + out.temp_path().string() + " failed (disk full?)");
  }
  out.commit();
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace fastbert
