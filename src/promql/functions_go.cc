// The parts of Go's standard library that decide Prometheus' exact results (see
// functions_internal.h): math.Max/Min, fmt's %f, sort.Sort and the time package's calendar.
// Written from their documented and observable behaviour. (strconv.ParseFloat is
// base/go_float.h, shared with the exposition parser and the PromQL parser.)
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "promql/functions_internal.h"

namespace steward::promql::internal {

double GoMax(double x, double y) {
  if ((std::isinf(x) && x > 0) || (std::isinf(y) && y > 0)) {
    return std::numeric_limits<double>::infinity();
  }
  if (std::isnan(x) || std::isnan(y)) return std::nan("");
  if (x == 0 && x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}

double GoMin(double x, double y) {
  if ((std::isinf(x) && x < 0) || (std::isinf(y) && y < 0)) {
    return -std::numeric_limits<double>::infinity();
  }
  if (std::isnan(x) || std::isnan(y)) return std::nan("");
  if (x == 0 && x == y) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}

// math.Log as Go runs it on amd64 (log_amd64.s, FreeBSD's algorithm): frexp by bit
// manipulation, then the same polynomial, operation for operation.
double GoLog(double x) {
  constexpr double kHalfSqrt2 = 7.07106781186547524401e-01;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kL1 = 6.666666666666735130e-01;
  constexpr double kL2 = 3.999999999940941908e-01;
  constexpr double kL3 = 2.857142874366239149e-01;
  constexpr double kL4 = 2.222219843214978396e-01;
  constexpr double kL5 = 1.818357216161805012e-01;
  constexpr double kL6 = 1.531383769920937332e-01;
  constexpr double kL7 = 1.479819860511658591e-01;
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  if ((bits & ~(uint64_t{1} << 63)) == 0) return -std::numeric_limits<double>::infinity();
  if (static_cast<int64_t>(bits) < 0) return std::nan("");
  if (static_cast<int64_t>(bits) >= 0x7FF0000000000000LL) return x;  // +Inf, NaN
  double f1 = std::bit_cast<double>((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FE0000000000000ULL);
  double k = static_cast<double>(static_cast<int>((bits >> 52) & 0x7FF) - 0x3FE);
  if (f1 < kHalfSqrt2) {
    k -= 1;
    f1 *= 2;
  }
  const double f = f1 - 1;
  const double s = f / (2 + f);
  const double s2 = s * s;
  const double s4 = s2 * s2;
  const double t1 = s2 * (kL1 + s4 * (kL3 + s4 * (kL5 + s4 * kL7)));
  const double t2 = s4 * (kL2 + s4 * (kL4 + s4 * kL6));
  const double r = t1 + t2;
  const double hfsq = 0.5 * f * f;
  return k * kLn2Hi - ((hfsq - (s * (hfsq + r) + k * kLn2Lo)) - f);
}

std::string GoFormatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

int64_t GoFloatToInt64(double f) {
  // CVTTSD2SQ's "integer indefinite" for NaN and values outside int64.
  if (std::isnan(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(f);
}

namespace {

constexpr uint64_t kSecondsPerMinute = 60;
constexpr uint64_t kSecondsPerHour = 60 * kSecondsPerMinute;
constexpr uint64_t kSecondsPerDay = 24 * kSecondsPerHour;
constexpr uint64_t kSecondsPerWeek = 7 * kSecondsPerDay;
constexpr uint64_t kDaysPer400Years = 365 * 400 + 97;
constexpr uint64_t kDaysPer100Years = 365 * 100 + 24;
constexpr uint64_t kDaysPer4Years = 365 * 4 + 1;
constexpr int64_t kAbsoluteZeroYear = -292277022399;
// Go's unixToInternal + internalToAbsolute: seconds from the absolute zero year to 1970.
constexpr uint64_t kUnixToAbsolute = 9223372028715321600ULL;
constexpr int kDaysBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};

bool IsLeap(int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

}  // namespace

GoDate GoUnixDate(int64_t sec) {
  GoDate out;
  uint64_t abs = static_cast<uint64_t>(sec) + kUnixToAbsolute;  // wraps like Go's int64 sum
  uint64_t d = abs / kSecondsPerDay;
  uint64_t n = d / kDaysPer400Years;
  uint64_t y = 400 * n;
  d -= kDaysPer400Years * n;
  n = d / kDaysPer100Years;
  n -= n >> 2;
  y += 100 * n;
  d -= kDaysPer100Years * n;
  n = d / kDaysPer4Years;
  y += 4 * n;
  d -= kDaysPer4Years * n;
  n = d / 365;
  n -= n >> 2;
  y += n;
  d -= 365 * n;
  out.year = static_cast<int64_t>(y + static_cast<uint64_t>(kAbsoluteZeroYear));
  int yday = static_cast<int>(d);
  out.year_day = yday + 1;
  int day = yday;
  bool leap = IsLeap(out.year);
  if (leap && day == 31 + 29 - 1) {
    out.month = 2;
    out.day = 29;
  } else {
    if (leap && day > 31 + 29 - 1) --day;
    int month = day / 31;
    int end = kDaysBefore[month + 1];
    int begin;
    if (day >= end) {
      ++month;
      begin = end;
    } else {
      begin = kDaysBefore[month];
    }
    out.month = month + 1;
    out.day = day - begin + 1;
  }
  out.days_in_month = kDaysBefore[out.month] - kDaysBefore[out.month - 1];
  if (out.month == 2 && leap) out.days_in_month = 29;
  out.weekday = static_cast<int>(((abs + kSecondsPerDay) % kSecondsPerWeek) / kSecondsPerDay);
  out.hour = static_cast<int>((abs % kSecondsPerDay) / kSecondsPerHour);
  out.minute = static_cast<int>((abs % kSecondsPerHour) / kSecondsPerMinute);
  return out;
}

// ---- sort.Sort: Go 1.19's pattern-defeating quicksort, operation for operation. ----
namespace {

using Less = std::function<bool(size_t, size_t)>;
using Swap = std::function<void(size_t, size_t)>;
enum class Hint { kUnknown, kIncreasing, kDecreasing };

struct Sorter {
  const Less& less;
  const Swap& swap;

  void InsertionSort(size_t a, size_t b) {
    for (size_t i = a + 1; i < b; ++i) {
      for (size_t j = i; j > a && less(j, j - 1); --j) swap(j, j - 1);
    }
  }

  void SiftDown(size_t lo, size_t hi, size_t first) {
    size_t root = lo;
    for (;;) {
      size_t child = 2 * root + 1;
      if (child >= hi) return;
      if (child + 1 < hi && less(first + child, first + child + 1)) ++child;
      if (!less(first + root, first + child)) return;
      swap(first + root, first + child);
      root = child;
    }
  }

  void HeapSort(size_t a, size_t b) {
    size_t first = a, hi = b - a;
    for (size_t i = (hi - 1) / 2 + 1; i-- > 0;) SiftDown(i, hi, first);
    for (size_t i = hi; i-- > 0;) {
      swap(first, first + i);
      SiftDown(0, i, first);
    }
  }

  // Returns (new pivot, already partitioned).
  std::pair<size_t, bool> Partition(size_t a, size_t b, size_t pivot) {
    swap(a, pivot);
    int64_t i = static_cast<int64_t>(a) + 1, j = static_cast<int64_t>(b) - 1;
    auto I = [](int64_t x) { return static_cast<size_t>(x); };
    while (i <= j && less(I(i), a)) ++i;
    while (i <= j && !less(I(j), a)) --j;
    if (i > j) {
      swap(I(j), a);
      return {I(j), true};
    }
    swap(I(i), I(j));
    ++i;
    --j;
    for (;;) {
      while (i <= j && less(I(i), a)) ++i;
      while (i <= j && !less(I(j), a)) --j;
      if (i > j) break;
      swap(I(i), I(j));
      ++i;
      --j;
    }
    swap(I(j), a);
    return {I(j), false};
  }

  size_t PartitionEqual(size_t a, size_t b, size_t pivot) {
    swap(a, pivot);
    int64_t i = static_cast<int64_t>(a) + 1, j = static_cast<int64_t>(b) - 1;
    auto I = [](int64_t x) { return static_cast<size_t>(x); };
    for (;;) {
      while (i <= j && !less(a, I(i))) ++i;
      while (i <= j && less(a, I(j))) --j;
      if (i > j) break;
      swap(I(i), I(j));
      ++i;
      --j;
    }
    return I(i);
  }

  bool PartialInsertionSort(size_t a, size_t b) {
    constexpr int kMaxSteps = 5;
    constexpr size_t kShortestShifting = 50;
    size_t i = a + 1;
    for (int step = 0; step < kMaxSteps; ++step) {
      while (i < b && !less(i, i - 1)) ++i;
      if (i == b) return true;
      if (b - a < kShortestShifting) return false;
      swap(i, i - 1);
      if (i - a >= 2) {
        for (size_t j = i - 1; j >= 1; --j) {
          if (!less(j, j - 1)) break;
          swap(j, j - 1);
        }
      }
      if (b - i >= 2) {
        for (size_t j = i + 1; j < b; ++j) {
          if (!less(j, j - 1)) break;
          swap(j, j - 1);
        }
      }
    }
    return false;
  }

  static int BitsLen(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

  void BreakPatterns(size_t a, size_t b) {
    size_t length = b - a;
    if (length < 8) return;
    uint64_t random = length;  // xorshift seeded with the length
    uint64_t modulus = uint64_t{1} << BitsLen(length);
    for (size_t idx = a + (length / 4) * 2 - 1; idx <= a + (length / 4) * 2 + 1; ++idx) {
      random ^= random << 13;
      random ^= random >> 17;
      random ^= random << 5;
      size_t other = static_cast<size_t>(random & (modulus - 1));
      if (other >= length) other -= length;
      swap(idx, a + other);
    }
  }

  size_t Median(size_t a, size_t b, size_t c, int& swaps) {
    auto order2 = [&](size_t& x, size_t& y) {
      if (less(y, x)) {
        ++swaps;
        std::swap(x, y);
      }
    };
    order2(a, b);
    order2(b, c);
    order2(a, b);
    return b;
  }

  std::pair<size_t, Hint> ChoosePivot(size_t a, size_t b) {
    constexpr size_t kShortestNinther = 50;
    constexpr int kMaxSwaps = 4 * 3;
    size_t l = b - a;
    int swaps = 0;
    size_t i = a + l / 4 * 1, j = a + l / 4 * 2, k = a + l / 4 * 3;
    if (l >= 8) {
      if (l >= kShortestNinther) {
        i = Median(i - 1, i, i + 1, swaps);
        j = Median(j - 1, j, j + 1, swaps);
        k = Median(k - 1, k, k + 1, swaps);
      }
      j = Median(i, j, k, swaps);
    }
    if (swaps == 0) return {j, Hint::kIncreasing};
    if (swaps == kMaxSwaps) return {j, Hint::kDecreasing};
    return {j, Hint::kUnknown};
  }

  void ReverseRange(size_t a, size_t b) {
    for (size_t i = a, j = b - 1; i < j; ++i, --j) swap(i, j);
  }

  void PdqSort(size_t a, size_t b, int limit) {
    constexpr size_t kMaxInsertion = 12;
    bool was_balanced = true, was_partitioned = true;
    for (;;) {
      size_t length = b - a;
      if (length <= kMaxInsertion) {
        InsertionSort(a, b);
        return;
      }
      if (limit == 0) {
        HeapSort(a, b);
        return;
      }
      if (!was_balanced) {
        BreakPatterns(a, b);
        --limit;
      }
      auto [pivot, hint] = ChoosePivot(a, b);
      if (hint == Hint::kDecreasing) {
        ReverseRange(a, b);
        pivot = (b - 1) - (pivot - a);
        hint = Hint::kIncreasing;
      }
      if (was_balanced && was_partitioned && hint == Hint::kIncreasing) {
        if (PartialInsertionSort(a, b)) return;
      }
      if (a > 0 && !less(a - 1, pivot)) {
        a = PartitionEqual(a, b, pivot);
        continue;
      }
      auto [mid, already] = Partition(a, b, pivot);
      was_partitioned = already;
      size_t left = mid - a, right = b - mid;
      size_t balance_threshold = length / 8;
      if (left < right) {
        was_balanced = left >= balance_threshold;
        PdqSort(a, mid, limit);
        a = mid + 1;
      } else {
        was_balanced = right >= balance_threshold;
        PdqSort(mid + 1, b, limit);
        b = mid;
      }
    }
  }
};

}  // namespace

void GoSort(size_t n, const Less& less, const Swap& swap) {
  if (n <= 1) return;
  Sorter sorter{less, swap};
  sorter.PdqSort(0, n, Sorter::BitsLen(n));
}

}  // namespace steward::promql::internal
