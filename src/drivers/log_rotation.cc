// RotateLogs (declared in driver.h): copy-truncate, because the replica holds its log fds open
// and cannot be told to reopen them. Lines written between the copy and the truncate are lost;
// that window is a few milliseconds and accepted.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "drivers/driver.h"

namespace steward::drivers {
namespace {

Status CopyFile(const std::string& from, const std::string& to) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoError("open " + from, errno);
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int err = errno;
    close(in);
    return ErrnoError("open " + to, err);
  }
  Status status;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoError("read " + from, errno);
      break;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        status = ErrnoError("write " + to, errno);
        break;
      }
      done += w;
    }
    if (!status.ok()) break;
  }
  close(in);
  if (close(out) != 0 && status.ok()) status = ErrnoError("close " + to, errno);
  return status;
}

Status RotateOne(const std::string& path, int64_t max_bytes, int keep) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return ErrnoError("stat " + path, errno);
  }
  if (st.st_size <= max_bytes) return Status::OK();
  if (keep > 0) {
    std::string oldest = path + "." + std::to_string(keep);
    if (unlink(oldest.c_str()) != 0 && errno != ENOENT)
      return ErrnoError("unlink " + oldest, errno);
    for (int n = keep - 1; n >= 1; --n) {
      std::string from = path + "." + std::to_string(n);
      std::string to = path + "." + std::to_string(n + 1);
      if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return ErrnoError("rename " + from, errno);
      }
    }
    RETURN_IF_ERROR(CopyFile(path, path + ".1"));
  }
  if (truncate(path.c_str(), 0) != 0) return ErrnoError("truncate " + path, errno);
  return Status::OK();
}

}  // namespace

Status RotateLogs(const std::string& log_dir, int64_t max_bytes, int keep) {
  if (keep < 0) return InvalidArgument("rotate logs: keep must be >= 0");
  for (const char* name : {"stdout.log", "stderr.log"}) {
    RETURN_IF_ERROR(RotateOne(log_dir + "/" + name, max_bytes, keep).Annotate("rotate logs"));
  }
  return Status::OK();
}

}  // namespace steward::drivers
