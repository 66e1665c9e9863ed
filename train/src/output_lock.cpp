#include "fastbert/train/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "fastbert/common/error.h"

namespace fastbert {

namespace fs = std::filesystem;

OutputLock::OutputLock(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path file = dir / ".fastbert-train.lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open " + file.string() + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {};
    const ssize_t n = ::pread(fd_, holder, sizeof(holder) - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      const std::string pid = n > 0 ? std::string(holder, size_t(n)) : std::string("unknown");
      throw Error(dir.string() + " is being written by another training process (pid " + pid +
                  "); wait for it to finish or stop it, then resume");
    }
    throw Error("cannot lock " + file.string() + ": " + std::strerror(err));
  }
  // The holder's pid, for the message above (the lock, not the text, decides).
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    // The lock holds all the same; only the message would lack the pid.
  }
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

}  // namespace fastbert
