// Go's strconv.ParseFloat(s, 64), the one reader of float text that Steward shares with
// Prometheus: the exposition parser (sample values, timestamps), PromQL number literals,
// histogram_quantile's `le` labels and the HTTP API's times and steps must accept and reject
// exactly the texts Prometheus does, and read them to the same bits.
//
// Contract (Go 1.13+ syntax): an optional sign, then decimal digits with an optional '.' and
// an optional e/E exponent with its own optional sign, or 0x/0X hex digits with an optional
// '.' and a mandatory p/P (binary) exponent; at least one mantissa digit; '_' only between
// digits (a 0x prefix counts as one); "inf"/"infinity" with an optional sign and "nan" without
// one, in any case. Nothing else: no spaces, no empty exponent, no trailing bytes. Results are
// correctly rounded; underflow gives (signed) zero or a subnormal without an error; overflow
// is kRange with value ±Inf, as Go returns ErrRange. Every NaN is Go's math.NaN() (kGoNaNBits).
//
// GoFloatSyntax::kPre113 is Prometheus' text exposition rule (textparse: "keep to pre-Go 1.13
// float formats", it rejects any text containing 'p', 'P' or '_' before calling ParseFloat):
// no hex floats and no underscores.
//
// Thread safety: pure functions. Independent of the C locale (std::from_chars).
#pragma once

#include <cstdint>
#include <string_view>

namespace steward {

// Go's math.NaN(); also Prometheus' value.NormalNaN.
inline constexpr uint64_t kGoNaNBits = 0x7ff8000000000001ull;

enum class GoFloatSyntax : uint8_t {
  kGo,      // strconv.ParseFloat as it is since Go 1.13
  kPre113,  // no hex floats, no '_' (Prometheus' text exposition format)
};

struct GoFloatResult {
  enum class Error : uint8_t { kNone, kSyntax, kRange };
  double value = 0;  // Go's value: ±Inf on kRange, 0 on kSyntax
  Error error = Error::kNone;
  bool ok() const { return error == Error::kNone; }
};

GoFloatResult GoParseFloat(std::string_view s, GoFloatSyntax syntax = GoFloatSyntax::kGo);

}  // namespace steward
