// The rules for what follows an operand in Prometheus' grammar — `[range]` (matrix_selector),
// `[range:step]` (subquery_expr), `offset` (offset_expr) and `@` (at_modifier_expr) — with the
// checks of addOffset, setTimestamp and the matrix_selector rule, in yacc's order; and
// model.ParseDuration, which the parser, the API and the CLI share. See parser_impl.h.
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>

#include "promql/parser.h"
#include "promql/parser_impl.h"
#include "promql/parser_internal.h"

namespace steward::promql {
namespace internal {
namespace {

// Go's %f: six decimals, "+Inf", "-Inf", "NaN".
std::string GoFixed(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

}  // namespace

// Postfix modifiers: `[range]`, `[range:step]`, `offset d`, `@ t`, in any order.
StatusOr<ExprPtr> Parser::Postfix(ExprPtr e) {
  while (true) {
    const Item& t = Peek();
    if (t.kind == Tok::kLeftBracket) {
      Take();
      ASSIGN_OR_RETURN(e, RangeOrSubquery(std::move(e), t));
    } else if (t.kind == Tok::kOffset) {
      Take();
      RETURN_IF_ERROR(Offset(e.get()));
    } else if (t.kind == Tok::kAt) {
      Take();
      RETURN_IF_ERROR(At(e.get()));
    } else {
      return e;
    }
  }
}

// Prometheus' parseDuration for range, step and offset: model.ParseDuration, then "duration
// must be greater than 0".
StatusOr<int64_t> Parser::Duration(const Item& d) const {
  auto ms = ParseDurationMillis(d.text);
  if (!ms.ok()) return Error(d.pos, ms.status().message());
  if (*ms == 0) return Error(d.pos, "duration must be greater than 0");
  return *ms;
}

StatusOr<ExprPtr> Parser::RangeOrSubquery(ExprPtr e, const Item& open) {
  const Item& d = Peek();
  if (d.kind != Tok::kDuration) return Unexpected(d, "subquery selector", "duration");
  Take();
  ASSIGN_OR_RETURN(int64_t range, Duration(d));
  const Item& next = Peek();
  if (next.kind == Tok::kRightBracket) {
    Take();
    auto* vs =
        e->kind == NodeKind::kVectorSelector ? static_cast<VectorSelector*>(e.get()) : nullptr;
    if (vs == nullptr) return Error(open.pos, "ranges only allowed for vector selectors");
    if (vs->offset_ms != 0) return Error(open.pos, "no offset modifiers allowed before range");
    if (vs->at == AtModifier::kTimestamp)
      return Error(open.pos, "no @ modifiers allowed before range");
    auto m = Node<MatrixSelector>(vs->pos, next.pos + 1);
    m->range_ms = range;
    m->vector.reset(static_cast<VectorSelector*>(e.release()));
    RETURN_IF_ERROR(Grew(m.get(), 1));
    return ExprPtr(std::move(m));
  }
  if (next.kind != Tok::kColon) return Unexpected(next, "subquery or range", "\":\" or \"]\"");
  Take();
  int64_t step = 0;
  if (Peek().kind == Tok::kDuration) {
    const Item& s = Take();
    ASSIGN_OR_RETURN(step, Duration(s));
    if (Peek().kind != Tok::kRightBracket) return Unexpected(Peek(), "subquery selector", "\"]\"");
  } else if (Peek().kind != Tok::kRightBracket) {
    return Unexpected(Peek(), "subquery selector", "duration or \"]\"");
  }
  auto sq = Node<SubqueryExpr>(e->pos, Take().pos + 1);
  sq->range_ms = range;
  sq->step_ms = step;
  RETURN_IF_ERROR(Grew(sq.get(), Height(e.get())));
  sq->expr = std::move(e);
  return ExprPtr(std::move(sq));
}

Status Parser::Offset(Expr* e) {
  bool negative = Peek().kind == Tok::kSub;
  if (negative) Take();
  const Item& d = Peek();
  if (d.kind != Tok::kDuration) return Unexpected(d, "offset", "duration");
  Take();
  ASSIGN_OR_RETURN(int64_t ms, Duration(d));
  int64_t* target = nullptr;
  if (e->kind == NodeKind::kVectorSelector) target = &static_cast<VectorSelector*>(e)->offset_ms;
  if (e->kind == NodeKind::kMatrixSelector)
    target = &static_cast<MatrixSelector*>(e)->vector->offset_ms;
  if (e->kind == NodeKind::kSubquery) target = &static_cast<SubqueryExpr*>(e)->offset_ms;
  if (target == nullptr)
    return Error(e->pos,
                 "offset modifier must be preceded by an instant vector selector or "
                 "range vector selector or a subquery");
  if (*target != 0) return Error(e->pos, "offset may not be set multiple times");
  *target = negative ? -ms : ms;
  e->end = d.pos + d.text.size();
  return Status::OK();
}

Status Parser::At(Expr* e) {
  const Item& t = Peek();
  AtModifier at = AtModifier::kTimestamp;
  int64_t at_ms = 0;
  size_t end = 0;
  if (t.kind == Tok::kStart || t.kind == Tok::kEnd) {
    Take();
    if (Peek().kind != Tok::kLeftParen) return Unexpected(Peek(), "@", "timestamp");
    Take();
    if (Peek().kind != Tok::kRightParen) return Unexpected(Peek(), "@", "timestamp");
    end = Take().pos + 1;
    at = t.kind == Tok::kStart ? AtModifier::kStart : AtModifier::kEnd;
  } else {
    RETURN_IF_ERROR(AtTimestamp(e, &at_ms, &end));
  }
  AtModifier* target_at = nullptr;
  int64_t* target_ms = nullptr;
  if (e->kind == NodeKind::kVectorSelector) {
    auto* vs = static_cast<VectorSelector*>(e);
    target_at = &vs->at, target_ms = &vs->at_ms;
  } else if (e->kind == NodeKind::kMatrixSelector) {
    auto* vs = static_cast<MatrixSelector*>(e)->vector.get();
    target_at = &vs->at, target_ms = &vs->at_ms;
  } else if (e->kind == NodeKind::kSubquery) {
    auto* sq = static_cast<SubqueryExpr*>(e);
    target_at = &sq->at, target_ms = &sq->at_ms;
  } else {
    return Error(e->pos,
                 "@ modifier must be preceded by an instant vector selector or range "
                 "vector selector or a subquery");
  }
  if (*target_at != AtModifier::kNone)
    return Error(e->pos, "@ <timestamp> may not be set multiple times");
  *target_at = at;
  *target_ms = at_ms;
  e->end = end;
  return Status::OK();
}

// `@ <number>`: Prometheus' setTimestamp for a literal time in seconds.
Status Parser::AtTimestamp(Expr* e, int64_t* at_ms, size_t* end) {
  const Item& t = Peek();
  bool negative = t.kind == Tok::kSub;
  if (t.kind == Tok::kSub || t.kind == Tok::kAdd) Take();
  const Item& num = Peek();
  if (num.kind != Tok::kNumber) return Unexpected(num, "@", "timestamp");
  Take();
  double ts = 0;
  std::string err;
  if (!ParseGoNumber(num.text, &ts, &err)) return Error(num.pos, "error parsing number: " + err);
  if (negative) ts = -ts;
  if (std::isnan(ts) || std::isinf(ts) || ts >= 9223372036854775807.0 ||
      ts <= -9223372036854775808.0)
    return Error(e->pos, "timestamp out of bounds for @ modifier: " + GoFixed(ts));
  double ms = std::round(ts * 1000);
  // Go converts an out-of-range float to int64 as amd64 does: the minimum value.
  *at_ms = (ms >= 9223372036854775807.0 || ms < -9223372036854775808.0) ? INT64_MIN
                                                                        : static_cast<int64_t>(ms);
  *end = num.pos + num.text.size();
  return Status::OK();
}

}  // namespace internal

StatusOr<int64_t> ParseDurationMillis(std::string_view text) {
  static constexpr struct {
    std::string_view unit;
    int64_t ms;
  } kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                {"w", 7LL * 24 * 3600 * 1000},
                {"d", 24LL * 3600 * 1000},
                {"h", 3600LL * 1000},
                {"m", 60LL * 1000},
                {"s", 1000},
                {"ms", 1}};
  constexpr int64_t kMaxMs = INT64_MAX / 1000000;  // time.Duration counts nanoseconds
  if (text == "0") return 0;
  if (text.empty()) return InvalidArgument("empty duration string");
  const auto invalid = [text] {
    return InvalidArgument("not a valid duration string: " + internal::GoQuote(text));
  };
  std::string_view s = text;
  int64_t total = 0;
  bool overflow = false;
  size_t next_unit = 0;
  while (!s.empty()) {
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    if (digits == 0) return invalid();
    std::string_view num = s.substr(0, digits);
    s.remove_prefix(digits);
    size_t u = next_unit;
    while (u < std::size(kUnits) && !(s.substr(0, kUnits[u].unit.size()) == kUnits[u].unit &&
                                      !(kUnits[u].unit == "m" && s.substr(0, 2) == "ms")))
      ++u;
    if (u == std::size(kUnits)) return invalid();
    s.remove_prefix(kUnits[u].unit.size());
    next_unit = u + 1;
    // Leading zeros are fine; Go's Atoi saturates what does not fit, which is out of range.
    while (num.size() > 1 && num[0] == '0') num.remove_prefix(1);
    int64_t n = num.size() > 18 ? INT64_MAX : std::stoll(std::string(num));
    if (n > kMaxMs / kUnits[u].ms || total > kMaxMs - n * kUnits[u].ms) {
      overflow = true;
      continue;
    }
    total += n * kUnits[u].ms;
  }
  if (overflow) return InvalidArgument("duration out of range");
  return total;
}

}  // namespace steward::promql
