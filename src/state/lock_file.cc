#include "state/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <utility>

#include "base/fd.h"

namespace steward::state {
namespace {

constexpr Duration kPollInterval{50};

// Closes the fd on scope exit unless released.

class FileLock : public Lock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  // Clearing the text first means a reader never sees a record for a lock nobody holds (except
  // after a kill -9, which the flock probe covers).
  ~FileLock() override {
    if (ftruncate(fd_, 0) != 0) {
      // Best effort: the record is informational and the flock is released by close below.
    }
    close(fd_);
  }

 private:
  int fd_;
};

// flock without EINTR; returns 0 or errno.
int TryFlock(int fd, int op) {
  while (flock(fd, op | LOCK_NB) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

std::string ReadAll(int fd) {
  std::string text;
  char buf[4096];
  off_t offset = 0;
  while (true) {
    ssize_t n = pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return text;
    text.append(buf, static_cast<size_t>(n));
    offset += n;
  }
}

Status WriteHolder(int fd, const std::string& path, const LockHolder& holder) {
  std::string text = FormatLockHolder(holder);
  if (ftruncate(fd, 0) != 0) return ErrnoError("truncate " + path, errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write " + path, errno);
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return ErrnoError("fsync " + path, errno);
  return Status::OK();
}

LockHolder HolderOrUnknown(int fd) { return ParseLockHolder(ReadAll(fd)).value_or(LockHolder{}); }

// "5s" for whole seconds (as the user typed --lock-timeout), "200ms", "1.5s" otherwise.
std::string TimeoutText(Duration timeout) {
  if (timeout.count() % 1000 == 0) return std::to_string(timeout.count() / 1000) + "s";
  return FormatDuration(timeout);
}

std::string SanitizeValue(std::string value) {
  std::replace(value.begin(), value.end(), '\n', ' ');
  std::replace(value.begin(), value.end(), '\r', ' ');
  return value;
}

}  // namespace

StatusOr<std::unique_ptr<Lock>> AcquireFileLock(const std::string& path, const LockHolder& holder,
                                                Duration timeout, Clock* clock) {
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return ErrnoError("open " + path, errno);
  const MonoTime deadline = clock->Now() + timeout;
  while (true) {
    int err = TryFlock(fd.get(), LOCK_EX);
    if (err == 0) break;
    if (err != EWOULDBLOCK) return ErrnoError("flock " + path, err);
    if (timeout <= Duration::zero()) {
      return Aborted("state is locked by " + HolderOrUnknown(fd.get()).ToString() +
                                "; wait with --lock-timeout or try again later");
    }
    MonoTime now = clock->Now();
    if (now >= deadline) {
      return Aborted("timed out after " + TimeoutText(timeout) +
                                " waiting for the state lock held by " +
                                HolderOrUnknown(fd.get()).ToString() + "; try again later");
    }
    clock->SleepFor(std::min(kPollInterval, std::chrono::ceil<Duration>(deadline - now)));
  }
  RETURN_IF_ERROR(WriteHolder(fd.get(), path, holder));
  return std::unique_ptr<Lock>(new FileLock(fd.release()));
}

StatusOr<std::optional<LockHolder>> ReadFileLockHolder(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<LockHolder>();
    return ErrnoError("open " + path, errno);
  }
  // Shared, so that concurrent status probes never make each other report a holder.
  int err = TryFlock(fd.get(), LOCK_SH);
  if (err == 0) return std::optional<LockHolder>();  // closing the fd drops the probe
  if (err != EWOULDBLOCK) return ErrnoError("flock " + path, err);
  return std::optional<LockHolder>(HolderOrUnknown(fd.get()));
}

std::string FormatLockHolder(const LockHolder& holder) {
  return "pid=" + std::to_string(holder.pid) + "\nhost=" + SanitizeValue(holder.host) +
         "\ncommand=" + SanitizeValue(holder.command) +
         "\nsince_ms=" + std::to_string(holder.since_ms) +
         "\nsince=" + FormatRfc3339(FromUnixMillis(holder.since_ms)) + "\n";
}

std::optional<LockHolder> ParseLockHolder(std::string_view text) {
  LockHolder holder;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (key == "pid") {
      std::from_chars(value.data(), value.data() + value.size(), holder.pid);
    } else if (key == "host") {
      holder.host = value;
    } else if (key == "command") {
      holder.command = value;
    } else if (key == "since_ms") {
      std::from_chars(value.data(), value.data() + value.size(), holder.since_ms);
    }
  }
  if (holder.pid <= 0) return std::nullopt;
  return holder;
}

}  // namespace steward::state
