// CallFunction's dispatch and argument checks, and the instant-vector functions that are plain
// arithmetic: math and trigonometry, clamp*, round, sgn, scalar, vector, time, pi, timestamp,
// the date functions, sort/sort_desc and absent (Prometheus 2.42's functions.go).
#include "promql/functions.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <utility>

#include "promql/functions_internal.h"
#include "promql/go_math.h"

namespace steward::promql {
namespace internal {
namespace {

using tsdb::Labels;

Labels DropName(const Labels& l) { return l.Without(tsdb::kMetricName); }

// simpleFunc: f applied to every sample, __name__ dropped.
template <double (*F)(double)>
StatusOr<Vector> Simple(const FunctionContext& ctx, const std::vector<Value>& args) {
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) out.push_back({DropName(s.metric), ctx.t, F(s.v)});
  return out;
}

double Abs(double v) { return std::fabs(v); }
double Ceil(double v) { return std::ceil(v); }
double Floor(double v) { return std::floor(v); }
double Exp(double v) { return GoExp(v); }
double Sqrt(double v) { return std::sqrt(v); }
double Ln(double v) { return GoLog(v); }
// Go's math.Log2 (frexp, then Log of the fraction) and Log10 (Log times the correctly rounded
// 1/Ln10) round differently from the C library's log2/log10 in the last bit, and floor() or ==
// would expose that; checked against Prometheus 2.42.
double Log2(double v) {
  int exp = 0;
  double frac = std::frexp(v, &exp);
  if (frac == 0.5) return exp - 1;  // exact powers of two
  return GoLog(frac) * std::numbers::log2e + exp;
}
double Log10(double v) { return GoLog(v) * std::numbers::log10e; }
double Sin(double v) { return GoSin(v); }
double Cos(double v) { return GoCos(v); }
double Tan(double v) { return GoTan(v); }
double Asin(double v) { return GoAsin(v); }
double Acos(double v) { return GoAcos(v); }
double Atan(double v) { return GoAtan(v); }
double Sinh(double v) { return GoSinh(v); }
double Cosh(double v) { return GoCosh(v); }
double Tanh(double v) { return GoTanh(v); }
double Asinh(double v) { return GoAsinh(v); }
double Acosh(double v) { return GoAcosh(v); }
double Atanh(double v) { return GoAtanh(v); }
double Deg(double v) { return v * 180 / std::numbers::pi; }
double Rad(double v) { return v * std::numbers::pi / 180; }
double Sgn(double v) { return v < 0 ? -1 : (v > 0 ? 1 : v); }  // keeps ±0 and NaN

StatusOr<Vector> Clamp(const FunctionContext& ctx, const std::vector<Value>& args) {
  double lo = ScalarArg(args, 1), hi = ScalarArg(args, 2);
  Vector out;
  if (hi < lo) return out;
  for (const Sample& s : VectorArg(args, 0)) {
    out.push_back({DropName(s.metric), ctx.t, GoMax(lo, GoMin(hi, s.v))});
  }
  return out;
}

StatusOr<Vector> ClampMax(const FunctionContext& ctx, const std::vector<Value>& args) {
  double hi = ScalarArg(args, 1);
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) {
    out.push_back({DropName(s.metric), ctx.t, GoMin(hi, s.v)});
  }
  return out;
}

StatusOr<Vector> ClampMin(const FunctionContext& ctx, const std::vector<Value>& args) {
  double lo = ScalarArg(args, 1);
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) {
    out.push_back({DropName(s.metric), ctx.t, GoMax(lo, s.v)});
  }
  return out;
}

// Ties round up (towards +Inf), not away from zero: Floor(v/n + 0.5) * n, computed through the
// inverse as Prometheus does for fewer floating-point surprises.
StatusOr<Vector> Round(const FunctionContext& ctx, const std::vector<Value>& args) {
  double to_nearest = args.size() >= 2 ? ScalarArg(args, 1) : 1.0;
  double inverse = 1.0 / to_nearest;
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) {
    out.push_back({DropName(s.metric), ctx.t, std::floor(s.v * inverse + 0.5) / inverse});
  }
  return out;
}

StatusOr<Vector> ScalarFn(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Vector& v = VectorArg(args, 0);
  return Vector{{Labels(), ctx.t, v.size() == 1 ? v[0].v : std::nan("")}};
}

StatusOr<Vector> VectorFn(const FunctionContext& ctx, const std::vector<Value>& args) {
  return Vector{{Labels(), ctx.t, ScalarArg(args, 0)}};
}

StatusOr<Vector> Time(const FunctionContext& ctx, const std::vector<Value>&) {
  return Vector{{Labels(), ctx.t, static_cast<double>(ctx.t) / 1000}};
}

StatusOr<Vector> Pi(const FunctionContext& ctx, const std::vector<Value>&) {
  return Vector{{Labels(), ctx.t, std::numbers::pi}};
}

StatusOr<Vector> Timestamp(const FunctionContext& ctx, const std::vector<Value>& args) {
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) {
    out.push_back({DropName(s.metric), ctx.t, static_cast<double>(s.t) / 1000});
  }
  return out;
}

// dateWrapper: without an argument the evaluation time; otherwise each sample's VALUE taken as
// unix seconds (truncated like Go's int64()), __name__ dropped.
template <double (*F)(const GoDate&)>
StatusOr<Vector> DateFn(const FunctionContext& ctx, const std::vector<Value>& args) {
  if (args.empty()) return Vector{{Labels(), ctx.t, F(GoUnixDate(ctx.t / 1000))}};
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) {
    out.push_back({DropName(s.metric), ctx.t, F(GoUnixDate(GoFloatToInt64(s.v)))});
  }
  return out;
}

double Year(const GoDate& d) { return static_cast<double>(d.year); }
double Month(const GoDate& d) { return d.month; }
double DayOfMonth(const GoDate& d) { return d.day; }
double DayOfWeek(const GoDate& d) { return d.weekday; }
double DayOfYear(const GoDate& d) { return d.year_day; }
double DaysInMonth(const GoDate& d) { return d.days_in_month; }
double Hour(const GoDate& d) { return d.hour; }
double Minute(const GoDate& d) { return d.minute; }

// sort/sort_desc: sort.Sort(sort.Reverse(...)) over Prometheus' value heaps, whose Less puts NaN
// first; reversed, NaN ends up last. GoSort reproduces Go's order for ties too.
Vector SortVector(Vector v, bool descending) {
  auto less = [&v, descending](size_t i, size_t j) {
    // Reverse(h).Less(i, j) == h.Less(j, i).
    if (std::isnan(v[j].v)) return true;
    return descending ? v[j].v < v[i].v : v[j].v > v[i].v;
  };
  GoSort(v.size(), less, [&v](size_t i, size_t j) { std::swap(v[i], v[j]); });
  return v;
}

StatusOr<Vector> Sort(const FunctionContext&, const std::vector<Value>& args) {
  return SortVector(VectorArg(args, 0), false);
}

StatusOr<Vector> SortDesc(const FunctionContext&, const std::vector<Value>& args) {
  return SortVector(VectorArg(args, 0), true);
}

StatusOr<Vector> Absent(const FunctionContext& ctx, const std::vector<Value>& args) {
  if (!VectorArg(args, 0).empty()) return Vector{};
  const Expr* arg = ctx.call->args.empty() ? nullptr : ctx.call->args[0].get();
  return Vector{{AbsentLabels(arg), ctx.t, 1}};
}

FunctionRegistry BuildRegistry() {
  FunctionRegistry r;
  AddMathFunctions(r);
  AddRangeFunctions(r);
  AddLabelFunctions(r);
  AddHistogramFunctions(r);
  return r;
}

const FunctionRegistry& Registry() {
  static const FunctionRegistry* registry = new FunctionRegistry(BuildRegistry());
  return *registry;
}

bool KindMatches(char kind, const Value& v) {
  switch (kind) {
    case 'v':
      return std::holds_alternative<Vector>(v);
    case 'm':
      return std::holds_alternative<Matrix>(v);
    case 's':
      return std::holds_alternative<Scalar>(v);
    case 'S':
      return std::holds_alternative<String>(v);
  }
  return false;
}

Status CheckArgs(std::string_view name, const FunctionEntry& e, const std::vector<Value>& args) {
  size_t n = args.size();
  size_t max = e.repeat_last ? SIZE_MAX : e.required.size() + e.optional.size();
  if (n < e.required.size() || n > max) {
    return Internal("function " + std::string(name) + " called with " + std::to_string(n) +
                    " arguments");
  }
  for (size_t i = 0; i < n; ++i) {
    char kind = i < e.required.size()                       ? e.required[i]
                : i - e.required.size() < e.optional.size() ? e.optional[i - e.required.size()]
                                                            : e.optional.back();
    if (!KindMatches(kind, args[i])) {
      return Internal("function " + std::string(name) + ": argument " + std::to_string(i + 1) +
                      " has the wrong type");
    }
  }
  return Status::OK();
}

}  // namespace

Status ExecutionError(std::string message) { return FailedPrecondition(std::move(message)); }

void AddMathFunctions(FunctionRegistry& r) {
  r["abs"] = Entry(Simple<Abs>, "v");
  r["ceil"] = Entry(Simple<Ceil>, "v");
  r["floor"] = Entry(Simple<Floor>, "v");
  r["exp"] = Entry(Simple<Exp>, "v");
  r["sqrt"] = Entry(Simple<Sqrt>, "v");
  r["ln"] = Entry(Simple<Ln>, "v");
  r["log2"] = Entry(Simple<Log2>, "v");
  r["log10"] = Entry(Simple<Log10>, "v");
  r["sin"] = Entry(Simple<Sin>, "v");
  r["cos"] = Entry(Simple<Cos>, "v");
  r["tan"] = Entry(Simple<Tan>, "v");
  r["asin"] = Entry(Simple<Asin>, "v");
  r["acos"] = Entry(Simple<Acos>, "v");
  r["atan"] = Entry(Simple<Atan>, "v");
  r["sinh"] = Entry(Simple<Sinh>, "v");
  r["cosh"] = Entry(Simple<Cosh>, "v");
  r["tanh"] = Entry(Simple<Tanh>, "v");
  r["asinh"] = Entry(Simple<Asinh>, "v");
  r["acosh"] = Entry(Simple<Acosh>, "v");
  r["atanh"] = Entry(Simple<Atanh>, "v");
  r["deg"] = Entry(Simple<Deg>, "v");
  r["rad"] = Entry(Simple<Rad>, "v");
  r["sgn"] = Entry(Simple<Sgn>, "v");
  r["clamp"] = Entry(Clamp, "vss");
  r["clamp_max"] = Entry(ClampMax, "vs");
  r["clamp_min"] = Entry(ClampMin, "vs");
  r["round"] = Entry(Round, "v", "s");
  r["scalar"] = Entry(ScalarFn, "v");
  r["vector"] = Entry(VectorFn, "s");
  r["time"] = Entry(Time, "");
  r["pi"] = Entry(Pi, "");
  r["timestamp"] = Entry(Timestamp, "v");
  r["year"] = Entry(DateFn<Year>, "", "v");
  r["month"] = Entry(DateFn<Month>, "", "v");
  r["day_of_month"] = Entry(DateFn<DayOfMonth>, "", "v");
  r["day_of_week"] = Entry(DateFn<DayOfWeek>, "", "v");
  r["day_of_year"] = Entry(DateFn<DayOfYear>, "", "v");
  r["days_in_month"] = Entry(DateFn<DaysInMonth>, "", "v");
  r["hour"] = Entry(DateFn<Hour>, "", "v");
  r["minute"] = Entry(DateFn<Minute>, "", "v");
  r["sort"] = Entry(Sort, "v");
  r["sort_desc"] = Entry(SortDesc, "v");
  r["absent"] = Entry(Absent, "v");
}

}  // namespace internal

// Prometheus' createLabelsForAbsentFunction: the label of each equality matcher other than
// __name__, applied in order; a later matcher on the same name (or any non-equality matcher)
// removes it again, so x{job="a",job="b"} gives no job label. Parentheses around the selector
// do not matter; any other expression gives no labels.
tsdb::Labels AbsentLabels(const Expr* arg) {
  // Prometheus' engine strips the argument's parentheses before calling the function.
  while (const ParenExpr* paren = As<ParenExpr>(arg)) arg = paren->expr.get();
  const VectorSelector* vs = As<VectorSelector>(arg);
  if (const MatrixSelector* ms = As<MatrixSelector>(arg)) vs = ms->vector.get();
  tsdb::Labels out;
  if (vs == nullptr) return out;
  std::vector<std::string> seen;
  for (const tsdb::Matcher& m : vs->matchers) {
    if (m.name() == tsdb::kMetricName) continue;
    bool has = std::find(seen.begin(), seen.end(), m.name()) != seen.end();
    if (m.type() == tsdb::Matcher::Type::kEqual && !has) {
      out = out.With(m.name(), m.value());
      seen.push_back(m.name());
    } else {
      out = out.Without(m.name());
    }
  }
  return out;
}

RangeFunction FindRangeFunction(std::string_view name) {
  const auto& registry = internal::Registry();
  auto it = registry.find(name);
  return it == registry.end() ? nullptr : it->second.range;
}

StatusOr<Vector> CallFunction(const FunctionContext& ctx, const std::vector<Value>& args) {
  if (ctx.call == nullptr || ctx.call->func == nullptr) {
    return Internal("CallFunction without a function");
  }
  std::string_view name = ctx.call->func->name;
  // A range query calls the same function once per series and step: remember the last lookup.
  thread_local std::string last_name;
  thread_local const internal::FunctionEntry* last_entry = nullptr;
  if (last_entry == nullptr || name != last_name) {
    const auto& registry = internal::Registry();
    auto it = registry.find(name);
    if (it == registry.end()) {
      return InvalidArgument("unknown function with name \"" + std::string(name) + "\"");
    }
    last_name = name;
    last_entry = &it->second;
  }
  RETURN_IF_ERROR(internal::CheckArgs(name, *last_entry, args));
  return last_entry->impl(ctx, args);
}

}  // namespace steward::promql
