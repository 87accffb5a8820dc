// Fd: owns one file descriptor and closes it when it goes out of scope, so early returns on
// error paths cannot leak descriptors. Move-only in spirit: not copyable; release() hands the
// descriptor over to the caller. Thread-compatible.
#pragma once

#include <unistd.h>

#include <utility>

namespace steward {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace steward
