// The engine's entry points, the per-query context (limits, deadline, stats), the step-wise
// evaluation driver (RangeEval, Prometheus' rangeEval) and the node dispatch. Selectors,
// subqueries and calls live in engine_select.cc, operators in binary.cc, aggregations in
// aggregation.cc.
#include "promql/engine.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "promql/engine_internal.h"

namespace steward::promql {
namespace eval {

Status TooManySamples() {
  return FailedPrecondition(
      "query processing would load too many samples into memory in query execution");
}

Status DuplicateLabelset() {
  return FailedPrecondition("vector cannot contain metrics with the same labelset");
}

// What Prometheus 2.42 reports when the deadline passes while evaluating (checked with a real one).
Status Timeout() { return DeadlineExceeded("query timed out in expression evaluation"); }
// Prometheus' ErrQueryCanceled for the same stage.
Status Canceled() { return Aborted("query was canceled in expression evaluation"); }

std::optional<int64_t> QueryContext::AtTime(AtModifier at, int64_t at_ms) const {
  switch (at) {
    case AtModifier::kNone:
      return std::nullopt;
    case AtModifier::kTimestamp:
      return ClampTime(at_ms);
    case AtModifier::kStart:
      return start_;
    case AtModifier::kEnd:
      return end_;
  }
  return std::nullopt;
}

Status QueryContext::Charge(int64_t n) {
  held_ += n;
  peak_ = std::max(peak_, held_);
  if (held_ > limits_.max_samples) return TooManySamples();
  return Status::OK();
}

Status QueryContext::CheckDeadline() {
  if (limits_.deadline == std::chrono::steady_clock::time_point::max() && !limits_.cancel)
    return Status::OK();
  if (deadline_calls_++ % 64 != 0) return Status::OK();
  if (limits_.cancel && limits_.cancel->load(std::memory_order_relaxed)) return Canceled();
  if (std::chrono::steady_clock::now() >= limits_.deadline) return Timeout();
  return Status::OK();
}

StatusOr<std::vector<tsdb::Series>> QueryContext::Select(const std::vector<tsdb::Matcher>& matchers,
                                                         int64_t mint, int64_t maxt) {
  RETURN_IF_ERROR(CheckDeadline());
  // The store stops loading at what the query may still read.
  const int64_t raw_limit = RawLimit();
  const int64_t budget = std::max<int64_t>(1, raw_limit - raw_held_);
  auto series = querier_->Select(matchers, mint, maxt, budget);
  if (!series.ok()) {
    if (series.status().code() == StatusCode::kFailedPrecondition) return TooManySamples();
    return series.status();
  }
  const int64_t n = SampleCount(*series);
  loaded_ += n;
  raw_held_ += n;
  if (raw_held_ > raw_limit) return TooManySamples();
  if (limits_.cancel && limits_.cancel->load(std::memory_order_relaxed)) return Canceled();
  if (std::chrono::steady_clock::now() >= limits_.deadline) return Timeout();
  return series;
}

int64_t QueryContext::RawLimit() const {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t scaled =
      limits_.max_samples > kMax / kRawFactor ? kMax : limits_.max_samples * kRawFactor;
  return std::max(scaled, options_.min_read_budget);
}

int64_t SampleCount(const std::vector<tsdb::Series>& series) {
  int64_t n = 0;
  for (const auto& s : series) n += static_cast<int64_t>(s.samples.size());
  return n;
}

void QueryContext::FillStats(QueryStats* stats) const {
  if (stats == nullptr) return;
  stats->samples_loaded = loaded_;
  stats->peak_samples = peak_;
}

// --- labels ---

static void AppendGoQuoted(std::string* out, std::string_view s);

tsdb::Labels DropMetricName(const tsdb::Labels& l) {
  if (!l.Has(tsdb::kMetricName)) return l;
  return l.Without(tsdb::kMetricName);
}

static bool Contains(const std::vector<std::string>& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

tsdb::Labels KeepLabels(const tsdb::Labels& l, const std::vector<std::string>& names) {
  std::vector<tsdb::Label> out;
  for (const auto& lb : l.items()) {
    if (Contains(names, lb.name)) out.push_back(lb);
  }
  return tsdb::Labels::FromSorted(std::move(out));
}

tsdb::Labels DropLabels(const tsdb::Labels& l, const std::vector<std::string>& names) {
  std::vector<tsdb::Label> out;
  for (const auto& lb : l.items()) {
    if (!Contains(names, lb.name)) out.push_back(lb);
  }
  return tsdb::Labels::FromSorted(std::move(out));
}

// Go's strconv.Quote for the characters label values realistically hold.
std::string GoQuote(std::string_view s) {
  std::string out;
  std::string* o = &out;
  AppendGoQuoted(o, s);
  return out;
}

static void AppendGoQuoted(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out->append("\\x");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string GoLabelsString(const tsdb::Labels& l) {
  std::string out = "{";
  bool first = true;
  for (const auto& lb : l.items()) {
    if (!first) out.append(", ");
    first = false;
    out.append(lb.name);
    out.push_back('=');
    AppendGoQuoted(&out, lb.value);
  }
  out.push_back('}');
  return out;
}

static void AppendPair(std::string* key, const tsdb::Label& lb) {
  key->append(lb.name);
  key->push_back('\xff');
  key->append(lb.value);
  key->push_back('\xff');
}

std::string SignatureKey(const tsdb::Labels& l, bool on, const std::vector<std::string>& names) {
  std::string key;
  for (const auto& lb : l.items()) {
    bool listed = Contains(names, lb.name);
    if (on ? listed : (!listed && lb.name != tsdb::kMetricName)) AppendPair(&key, lb);
  }
  return key;
}

std::string LabelsKey(const tsdb::Labels& l) {
  std::string key;
  for (const auto& lb : l.items()) AppendPair(&key, lb);
  return key;
}

namespace {

struct LabelsPtrHash {
  size_t operator()(const tsdb::Labels* l) const { return l->Hash(); }
};
struct LabelsPtrEq {
  bool operator()(const tsdb::Labels* a, const tsdb::Labels* b) const { return *a == *b; }
};

// By address and hash: no key strings built for every series of a large result.
template <typename Elems>
bool HasSameLabelset(const Elems& elems) {
  if (elems.size() < 2) return false;
  std::unordered_set<const tsdb::Labels*, LabelsPtrHash, LabelsPtrEq> seen;
  seen.reserve(elems.size());
  for (const auto& e : elems) {
    if (!seen.insert(&e.metric).second) return true;
  }
  return false;
}

}  // namespace

bool ContainsSameLabelset(const Matrix& m) { return HasSameLabelset(m); }
bool ContainsSameLabelset(const Vector& v) { return HasSameLabelset(v); }

const Expr* UnwrapParens(const Expr* e) {
  while (e != nullptr && e->kind == NodeKind::kParen)
    e = static_cast<const ParenExpr*>(e)->expr.get();
  return e;
}

static int64_t CountPoints(const Matrix& m) {
  int64_t n = 0;
  for (const auto& s : m) n += static_cast<int64_t>(s.points.size());
  return n;
}

// --- evaluation ---

StatusOr<Value> Evaluator::Eval(const Expr& e) {
  RETURN_IF_ERROR(ctx_->CheckDeadline());
  StatusOr<Matrix> m = Status::OK();
  switch (e.kind) {
    case NodeKind::kStringLiteral:
      return Value(String{steps_.start, static_cast<const StringLiteral&>(e).value});
    case NodeKind::kParen:
      return Eval(*static_cast<const ParenExpr&>(e).expr);
    case NodeKind::kNumberLiteral:
      m = EvalNumber(static_cast<const NumberLiteral&>(e).value);
      break;
    case NodeKind::kVectorSelector:
      m = EvalVectorSelector(static_cast<const VectorSelector&>(e));
      break;
    case NodeKind::kMatrixSelector:
      m = EvalTopMatrixSelector(static_cast<const MatrixSelector&>(e));
      break;
    case NodeKind::kSubquery:
      m = EvalSubquery(static_cast<const SubqueryExpr&>(e));
      break;
    case NodeKind::kUnary:
      m = EvalUnary(static_cast<const UnaryExpr&>(e));
      break;
    case NodeKind::kBinary:
      m = EvalBinary(static_cast<const BinaryExpr&>(e));
      break;
    case NodeKind::kAggregate:
      m = EvalAggregate(static_cast<const AggregateExpr&>(e));
      break;
    case NodeKind::kCall:
      m = EvalCall(static_cast<const Call&>(e));
      break;
  }
  if (!m.ok()) return m.status();
  return Value(std::move(m).value());
}

StatusOr<Matrix> Evaluator::EvalMatrix(const Expr& e) {
  ASSIGN_OR_RETURN(Value v, Eval(e));
  if (auto* m = std::get_if<Matrix>(&v)) return std::move(*m);
  return Internal("promql engine: expected a matrix from " + e.ToString());
}

StatusOr<Matrix> Evaluator::EvalNumber(double v) {
  RETURN_IF_ERROR(ctx_->Charge(steps_.Count()));  // before allocating them
  Series s;
  s.points.reserve(static_cast<size_t>(steps_.Count()));
  for (int64_t ts = steps_.start; ts <= steps_.end; ts += steps_.interval) {
    s.points.push_back({ts, v});
  }
  Matrix out;
  out.push_back(std::move(s));
  return out;
}

StatusOr<Matrix> Evaluator::EvalUnary(const UnaryExpr& u) {
  ASSIGN_OR_RETURN(Matrix m, EvalMatrix(*u.expr));
  if (!u.negate) return m;
  for (auto& s : m) {
    s.metric = DropMetricName(s.metric);
    for (auto& p : s.points) p.v = -p.v;
  }
  if (ContainsSameLabelset(m)) return DuplicateLabelset();
  return m;
}

Vector StepVector::Materialize(int64_t t) const {
  Vector out;
  out.reserve(v.size());
  for (size_t j = 0; j < v.size(); ++j) out.push_back(Sample{metric(j), t, v[j]});
  return out;
}

namespace {

// Collects the per-step outputs of RangeEval into series (Prometheus' rangeEval): an instant
// evaluation keeps the output's order; a range evaluation keys series by labels (and stable
// label objects by address, so later steps skip the hashing).
class SeriesCollector {
 public:
  SeriesCollector(bool instant, int64_t steps) : instant_(instant), steps_(steps) {}

  Status Add(int64_t ts, StepOutput* step) {
    if (instant_) return AddInstant(ts, step);
    const auto& items = step->items();
    if (last_.size() < items.size()) last_.resize(items.size(), {nullptr, SIZE_MAX});
    for (size_t k = 0; k < items.size(); ++k) {
      const auto& it = items[k];
      size_t idx;
      if (it.stable ? last_[k].first == it.labels
                    : last_[k].second < out_.size() && out_[last_[k].second].metric == *it.labels) {
        idx = last_[k].second;  // the same output as at the previous step, the common case
      } else if (auto by_ptr = it.stable ? by_ptr_.find(it.labels) : by_ptr_.end();
                 by_ptr != by_ptr_.end()) {
        idx = by_ptr->second;
      } else {
        idx = it.stable ? Find(tsdb::Labels(*it.labels)) : Find(std::move(*step->Mutable(it)));
        if (it.stable) by_ptr_.emplace(it.labels, idx);
      }
      last_[k] = {it.stable ? it.labels : nullptr, idx};
      auto& pts = out_[idx].points;
      if (!pts.empty() && pts.back().t == ts) return DuplicateLabelset();
      pts.push_back({ts, it.v});
    }
    return Status::OK();
  }
  Matrix Take() { return std::move(out_); }

 private:
  Status AddInstant(int64_t ts, StepOutput* step) {
    std::unordered_set<const tsdb::Labels*, LabelsPtrHash, LabelsPtrEq> seen;
    for (const auto& it : step->items()) {
      if (!seen.insert(it.labels).second) return DuplicateLabelset();
    }
    for (const auto& it : step->items()) {
      tsdb::Labels l = it.stable ? *it.labels : std::move(*step->Mutable(it));
      out_.push_back(Series{std::move(l), {{ts, it.v}}});
    }
    return Status::OK();
  }

  // The index of the series with these labels, created when new.
  size_t Find(tsdb::Labels&& l) {
    auto it = by_labels_.find(&l);
    if (it != by_labels_.end()) return it->second;
    const size_t idx = out_.size();
    out_.push_back(Series{std::move(l), {}});
    // Small: only points added are charged to the sample limit, and a query can make many
    // series that each appear at a single step.
    out_.back().points.reserve(static_cast<size_t>(std::min<int64_t>(steps_, 16)));
    labels_.push_back(out_.back().metric);
    by_labels_.emplace(&labels_.back(), idx);
    return idx;
  }

  bool instant_;
  int64_t steps_;
  Matrix out_;
  std::deque<tsdb::Labels> labels_;  // keys of by_labels_ (out_ may reallocate)
  std::unordered_map<const tsdb::Labels*, size_t, LabelsPtrHash, LabelsPtrEq> by_labels_;
  std::unordered_map<const tsdb::Labels*, size_t> by_ptr_;
  std::vector<std::pair<const tsdb::Labels*, size_t>> last_;  // per output position
};

}  // namespace

StatusOr<Matrix> Evaluator::RangeEval(const std::vector<const Expr*>& exprs,
                                      const PrepareFn& prepare, const StepFn& fn,
                                      bool materialize) {
  const size_t n = exprs.size();
  std::vector<Matrix> mats(n);
  std::vector<const Matrix*> ptrs(n, nullptr);
  std::vector<int> kind(n, 0);  // 0: absent, 1: string, 2: scalar, 3: vector
  StepArgs in;
  in.args.resize(n);
  in.vectors.resize(n);
  int64_t arg_points = 0;
  for (size_t i = 0; i < n; ++i) {
    if (exprs[i] == nullptr) continue;
    ValueType t = exprs[i]->Type();
    if (t == ValueType::kString) {
      ASSIGN_OR_RETURN(in.args[i], Eval(*exprs[i]));
      kind[i] = 1;
      continue;
    }
    ASSIGN_OR_RETURN(mats[i], EvalMatrix(*exprs[i]));
    arg_points += CountPoints(mats[i]);
    ptrs[i] = &mats[i];
    in.vectors[i].m = &mats[i];
    kind[i] = t == ValueType::kScalar ? 2 : 3;
  }
  if (prepare) RETURN_IF_ERROR(prepare(ptrs));

  std::vector<std::vector<size_t>> cursor(n);
  for (size_t i = 0; i < n; ++i) cursor[i].assign(mats[i].size(), 0);
  SeriesCollector collector(steps_.Count() == 1, steps_.Count());
  StepOutput result;
  for (int64_t ts = steps_.start; ts <= steps_.end; ts += steps_.interval) {
    RETURN_IF_ERROR(ctx_->CheckDeadline());
    in.t = ts;
    int64_t step_samples = 0;
    for (size_t i = 0; i < n; ++i) {
      if (kind[i] < 2) continue;
      StepVector& vec = in.vectors[i];
      vec.series.clear();
      vec.v.clear();
      for (size_t si = 0; si < mats[i].size(); ++si) {
        const auto& pts = mats[i][si].points;
        size_t& c = cursor[i][si];
        while (c < pts.size() && pts[c].t < ts) ++c;
        if (c < pts.size() && pts[c].t == ts) {
          vec.series.push_back(static_cast<uint32_t>(si));
          vec.v.push_back(pts[c].v);
        }
      }
      step_samples += static_cast<int64_t>(vec.size());
      if (kind[i] == 2) {
        // A scalar node has a value at every step.
        in.args[i] = Scalar{ts, vec.v.empty() ? 0.0 : vec.v[0]};
      } else if (materialize) {
        in.args[i] = vec.Materialize(ts);
      }
    }
    RETURN_IF_ERROR(ctx_->Charge(step_samples));
    result.Clear();
    RETURN_IF_ERROR(fn(in, &result));
    ctx_->Release(step_samples);
    RETURN_IF_ERROR(ctx_->Charge(static_cast<int64_t>(result.items().size())));
    RETURN_IF_ERROR(collector.Add(ts, &result));
  }
  ctx_->Release(arg_points);
  return collector.Take();
}

// A large query frees tens of MB of raw samples and per-series points, and glibc keeps freed
// memory in its arenas (each thread that served a query has one): a daemon that answered one
// big query would hold that RSS for good. Hand it back after queries that read a lot; small
// ones (most dashboard and alert queries) do not pay for the trim.
static void ReturnFreedMemory(const QueryContext& ctx) {
  constexpr int64_t kTrimAfterSamples = 50'000;
  if (ctx.loaded() < kTrimAfterSamples) return;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

static void SortByLabels(Matrix* m) {
  std::sort(m->begin(), m->end(),
            [](const Series& a, const Series& b) { return a.metric < b.metric; });
}

}  // namespace eval

StatusOr<Value> Engine::Instant(tsdb::Querier* querier, const Expr& expr, int64_t t_ms,
                                const QueryLimits& limits, QueryStats* stats) const {
  const int64_t t = eval::ClampTime(t_ms);  // the answer still carries t_ms
  eval::QueryContext ctx(querier, options_, limits, t, t);
  eval::Evaluator ev(&ctx, eval::Steps{t, t, 1});
  auto v = ev.Eval(expr);
  ctx.FillStats(stats);
  eval::ReturnFreedMemory(ctx);
  if (!v.ok()) return v.status();
  switch (expr.Type()) {
    case ValueType::kVector: {
      Vector out;
      for (auto& s : std::get<Matrix>(*v)) {
        out.push_back(Sample{std::move(s.metric), t_ms, s.points.empty() ? 0 : s.points[0].v});
      }
      return Value(std::move(out));
    }
    case ValueType::kScalar: {
      const Matrix& m = std::get<Matrix>(*v);
      double x = m.empty() || m[0].points.empty() ? 0 : m[0].points[0].v;
      return Value(Scalar{t_ms, x});
    }
    case ValueType::kString:
      std::get<String>(*v).t = t_ms;
      return v;
    default:
      return v;
  }
}

StatusOr<Matrix> Engine::Range(tsdb::Querier* querier, const Expr& expr, int64_t start_ms,
                               int64_t end_ms, int64_t step_ms, const QueryLimits& limits,
                               QueryStats* stats) const {
  ValueType type = expr.Type();
  if (type != ValueType::kScalar && type != ValueType::kVector) {
    return InvalidArgument("invalid expression type \"" + std::string(ValueTypeName(type)) +
                           "\" for range query, must be Scalar or instant Vector");
  }
  if (step_ms <= 0)
    return InvalidArgument("zero or negative query resolution step widths are not accepted");
  start_ms = eval::ClampTime(start_ms);
  end_ms = eval::ClampTime(end_ms);
  step_ms = std::min(step_ms, eval::kMaxEvalTime);
  eval::QueryContext ctx(querier, options_, limits, start_ms, end_ms);
  eval::Evaluator ev(&ctx, eval::Steps{start_ms, end_ms, step_ms});
  auto m = ev.Eval(expr);
  ctx.FillStats(stats);
  eval::ReturnFreedMemory(ctx);
  if (!m.ok()) return m.status();
  Matrix out = std::move(std::get<Matrix>(*m));
  eval::SortByLabels(&out);
  return out;
}

}  // namespace steward::promql
