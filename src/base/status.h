// Status and StatusOr: how every room reports failure without exceptions.
//
// An OK Status is a null pointer and costs nothing to copy or return. A failed Status carries a
// code and a message; callers add context at each layer with Annotate(), so that the error a
// user finally sees reads "apply: service web: start replica 1: exec /bin/foo: No such file".
// Thread safety: Status values are immutable after construction and safe to share.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace steward {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong (stack file, flag, request)
  kNotFound,          // a named thing does not exist
  kAlreadyExists,     // a named thing exists and must not
  kFailedPrecondition,// the world is not in a state where this can run
  kAborted,           // another operation holds what this one needs (the state lock)
  kUnavailable,       // a peer or resource is temporarily unreachable; retrying may help
  kDeadlineExceeded,  // ran out of time
  kIOError,           // the operating system refused (disk, process, socket)
  kCorruption,        // stored data is damaged; not the same as an IO error
  kInternal,          // a broken invariant in Steward itself
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status OK() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const;

  // Returns a copy whose message is "context: message". OK stays OK.
  Status Annotate(std::string_view context) const;
  std::string ToString() const;

  // Explicitly drops a status where failure truly does not matter (best-effort cleanup).
  void IgnoreError() const {}

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

inline Status InvalidArgument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(StatusCode::kAlreadyExists, std::move(m)); }
inline Status FailedPrecondition(std::string m) { return Status(StatusCode::kFailedPrecondition, std::move(m)); }
inline Status Aborted(std::string m) { return Status(StatusCode::kAborted, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
inline Status DeadlineExceeded(std::string m) { return Status(StatusCode::kDeadlineExceeded, std::move(m)); }
inline Status IOError(std::string m) { return Status(StatusCode::kIOError, std::move(m)); }
inline Status Corruption(std::string m) { return Status(StatusCode::kCorruption, std::move(m)); }
inline Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
// An IOError whose message ends with strerror(errnum).
Status ErrnoError(std::string_view what, int errnum);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design
  StatusOr(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace steward

#define STEWARD_CONCAT_INNER(a, b) a##b
#define STEWARD_CONCAT(a, b) STEWARD_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` yields a failed Status.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::steward::Status _st = (expr);              \
    if (!_st.ok()) return _st;                   \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr)                                    \
  auto STEWARD_CONCAT(_sor_, __LINE__) = (expr);                       \
  if (!STEWARD_CONCAT(_sor_, __LINE__).ok())                           \
    return STEWARD_CONCAT(_sor_, __LINE__).status();                   \
  lhs = std::move(STEWARD_CONCAT(_sor_, __LINE__)).value()
