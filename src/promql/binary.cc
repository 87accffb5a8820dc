// Binary operators of the evaluator (engine_internal.h), as Prometheus 2.42's engine: scalar and
// vector arithmetic with Go's math.Pow/math.Mod, comparisons as filters or with `bool`, vector
// matching on/ignoring with group_left/group_right and Prometheus' matching errors, and the set
// operators and/or/unless.
#include <cmath>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "promql/engine_internal.h"

namespace steward::promql::eval {
namespace {

// Go's math.Pow and math.Mod follow C99 pow/fmod for every special case PromQL can meet.
double Pow(double l, double r) { return std::pow(l, r); }
double Mod(double l, double r) { return std::fmod(l, r); }

class VectorMatcher {
 public:
  VectorMatcher(const BinaryExpr& b, const VectorMatching& m) : b_(b), m_(m) {}

  // Numbers every distinct matching signature of both sides once, so steps match by index.
  Status Prepare(const std::vector<const Matrix*>& args) {
    std::unordered_map<std::string, uint32_t> ids;
    for (size_t i = 0; i < 2; ++i) {
      sigs_[i].clear();
      for (const auto& s : *args[i]) {
        auto [it, fresh] = ids.emplace(SignatureKey(s.metric, m_.on, m_.labels),
                                       static_cast<uint32_t>(ids.size()));
        sigs_[i].push_back(it->second);
      }
    }
    slot_.assign(ids.size(), -1);
    seen_.assign(ids.size(), 0);
    return Status::OK();
  }

  Status Step(const StepArgs& in, StepOutput* out) {
    const StepVector& lhs = in.vectors[0];
    const StepVector& rhs = in.vectors[1];
    switch (b_.op) {
      case BinaryOp::kAnd:
        Filter(lhs, rhs, true, out);
        return Status::OK();
      case BinaryOp::kUnless:
        Filter(lhs, rhs, false, out);
        return Status::OK();
      case BinaryOp::kOr:
        Or(lhs, rhs, out);
        return Status::OK();
      default:
        return Binop(lhs, rhs, out);
    }
  }

 private:
  uint32_t Sig(int side, const StepVector& v, size_t j) const { return sigs_[side][v.series[j]]; }
  static void Append(StepOutput* out, const StepVector& v, size_t j) {
    out->AddStable(&v.metric(j), v.v[j]);
  }

  // and (keep = true) / unless (keep = false): lhs samples with / without a match in rhs.
  void Filter(const StepVector& lhs, const StepVector& rhs, bool keep, StepOutput* out) {
    if (lhs.size() == 0 || rhs.size() == 0) {
      if (!keep) {
        for (size_t i = 0; i < lhs.size(); ++i) Append(out, lhs, i);
      }
      return;
    }
    for (size_t j = 0; j < rhs.size(); ++j) seen_[Sig(1, rhs, j)] = 1;
    for (size_t i = 0; i < lhs.size(); ++i) {
      if ((seen_[Sig(0, lhs, i)] != 0) == keep) Append(out, lhs, i);
    }
    for (size_t j = 0; j < rhs.size(); ++j) seen_[Sig(1, rhs, j)] = 0;
  }

  void Or(const StepVector& lhs, const StepVector& rhs, StepOutput* out) {
    for (size_t i = 0; i < lhs.size(); ++i) {
      Append(out, lhs, i);
      seen_[Sig(0, lhs, i)] = 1;
    }
    for (size_t j = 0; j < rhs.size(); ++j) {
      if (seen_[Sig(1, rhs, j)] == 0) Append(out, rhs, j);
    }
    for (size_t i = 0; i < lhs.size(); ++i) seen_[Sig(0, lhs, i)] = 0;
  }

  // Prometheus' resultMetric, cached per pair of input series as Prometheus caches it.
  struct Result {
    tsdb::Labels labels;
    uint64_t hash;
  };
  const Result& ResultMetric(const StepVector& lv, size_t i, const StepVector& rv, size_t j) {
    const uint64_t key = (uint64_t{lv.series[i]} << 32) | rv.series[j];
    auto it = result_metric_.find(key);
    if (it != result_metric_.end()) return it->second;
    const tsdb::Labels& l = lv.metric(i);
    const tsdb::Labels& r = rv.metric(j);
    std::vector<tsdb::Label> out;
    const bool drop_name = ShouldDropMetricName(b_.op);
    for (const auto& lb : l.items()) {
      if (drop_name && lb.name == tsdb::kMetricName) continue;
      if (m_.card == VectorMatching::Card::kOneToOne) {
        bool listed = std::find(m_.labels.begin(), m_.labels.end(), lb.name) != m_.labels.end();
        if (m_.on != listed) continue;
      }
      out.push_back(lb);
    }
    tsdb::Labels res = tsdb::Labels::FromSorted(std::move(out));
    for (const auto& name : m_.include) res = res.With(name, r.Get(name));
    if (b_.return_bool) res = DropMetricName(res);
    const uint64_t hash = res.Hash();
    return result_metric_.emplace(key, Result{std::move(res), hash}).first->second;
  }

  Status Binop(const StepVector& lhs_in, const StepVector& rhs_in, StepOutput* out) {
    if (lhs_in.size() == 0 || rhs_in.size() == 0) return Status::OK();
    // One-to-many is many-to-one with the sides swapped (and swapped back for the value).
    const bool swap = m_.card == VectorMatching::Card::kOneToMany;
    const StepVector& lhs = swap ? rhs_in : lhs_in;
    const StepVector& rhs = swap ? lhs_in : rhs_in;
    const int lside = swap ? 1 : 0, rside = swap ? 0 : 1;
    // slot_[sig]: the rhs sample with that signature; seen_[sig]: matched on the lhs already.
    std::vector<uint32_t> used;
    auto reset = [&] {
      for (uint32_t sig : used) slot_[sig] = -1, seen_[sig] = 0;
    };
    for (size_t j = 0; j < rhs.size(); ++j) {
      const uint32_t sig = Sig(rside, rhs, j);
      if (slot_[sig] >= 0) {
        Status st = DuplicateError(rhs, j, static_cast<size_t>(slot_[sig]), swap);
        reset();
        return st;
      }
      slot_[sig] = static_cast<int32_t>(j);
      used.push_back(sig);
    }
    grouped_.clear();  // many-to-one: (signature, result labels) pairs seen at this step
    Status st = Status::OK();
    for (size_t i = 0; i < lhs.size() && st.ok(); ++i) {
      const uint32_t sig = Sig(lside, lhs, i);
      if (slot_[sig] < 0) continue;
      const size_t j = static_cast<size_t>(slot_[sig]);
      double vl = lhs.v[i], vr = rhs.v[j];
      if (swap) std::swap(vl, vr);
      bool keep = true;
      double value = VectorElemBinop(b_.op, vl, vr, &keep);
      if (b_.return_bool) {
        value = keep ? 1.0 : 0.0;
      } else if (!keep) {
        continue;
      }
      const Result& metric = ResultMetric(lhs, i, rhs, j);
      if (m_.card == VectorMatching::Card::kOneToOne) {
        if (seen_[sig] != 0) {
          st = FailedPrecondition(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
          break;
        }
        seen_[sig] = 1;
      } else if (!grouped_.insert(metric.hash * 0x9E3779B97F4A7C15ULL + sig).second) {
        st = FailedPrecondition(
            "multiple matches for labels: grouping labels must ensure unique matches");
        break;
      }
      out->AddStable(&metric.labels, value);
    }
    reset();
    return st;
  }

  Status DuplicateError(const StepVector& rhs, size_t j, size_t first, bool swap) const {
    const tsdb::Labels& metric = rhs.metric(j);
    tsdb::Labels matched =
        m_.on ? KeepLabels(metric, m_.labels) : DropMetricName(DropLabels(metric, m_.labels));
    return FailedPrecondition(
        "found duplicate series for the match group " + GoLabelsString(matched) + " on the " +
        (swap ? "left" : "right") + " hand-side of the operation: [" + GoLabelsString(metric) +
        ", " + GoLabelsString(rhs.metric(first)) +
        "];many-to-many matching not allowed: matching labels must be unique on one side");
  }

  const BinaryExpr& b_;
  const VectorMatching& m_;
  std::vector<std::vector<uint32_t>> sigs_ = std::vector<std::vector<uint32_t>>(2);
  std::vector<int32_t> slot_;
  std::vector<char> seen_;
  std::unordered_set<uint64_t> grouped_;
  std::unordered_map<uint64_t, Result> result_metric_;
};

// Vector/scalar operators; labels without __name__ are computed once per input series.
class VectorScalarOp {
 public:
  VectorScalarOp(const BinaryExpr& b, bool swap) : b_(b), swap_(swap) {}

  Status Step(const StepArgs& in, StepOutput* out) {
    const StepVector& vec = in.vectors[swap_ ? 1 : 0];
    const double scalar = std::get<Scalar>(in.args[swap_ ? 0 : 1]).v;
    const bool drop = ShouldDropMetricName(b_.op) || b_.return_bool;
    for (size_t j = 0; j < vec.size(); ++j) {
      double lv = vec.v[j], rv = scalar;
      if (swap_) std::swap(lv, rv);
      bool keep = true;
      double value = VectorElemBinop(b_.op, lv, rv, &keep);
      // A comparison keeps the vector's value even when the vector is on the right.
      if (IsComparison(b_.op) && swap_) value = rv;
      if (b_.return_bool) {
        value = keep ? 1.0 : 0.0;
        keep = true;
      }
      if (!keep) continue;
      out->AddStable(drop ? &Dropped(vec, j) : &vec.metric(j), value);
    }
    return Status::OK();
  }

 private:
  const tsdb::Labels& Dropped(const StepVector& vec, size_t j) {
    auto it = dropped_.find(vec.series[j]);
    if (it == dropped_.end())
      it = dropped_.emplace(vec.series[j], DropMetricName(vec.metric(j))).first;
    return it->second;
  }
  const BinaryExpr& b_;
  bool swap_;
  std::unordered_map<uint32_t, tsdb::Labels> dropped_;
};

}  // namespace

bool ShouldDropMetricName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kPow:
    case BinaryOp::kMod:
      return true;
    default:
      return false;
  }
}

double VectorElemBinop(BinaryOp op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case BinaryOp::kAdd:
      return l + r;
    case BinaryOp::kSub:
      return l - r;
    case BinaryOp::kMul:
      return l * r;
    case BinaryOp::kDiv:
      return l / r;
    case BinaryOp::kPow:
      return Pow(l, r);
    case BinaryOp::kMod:
      return Mod(l, r);
    case BinaryOp::kAtan2:
      return std::atan2(l, r);
    case BinaryOp::kEql:
      *keep = l == r;
      return l;
    case BinaryOp::kNeq:
      *keep = l != r;
      return l;
    case BinaryOp::kGtr:
      *keep = l > r;
      return l;
    case BinaryOp::kLss:
      *keep = l < r;
      return l;
    case BinaryOp::kGte:
      *keep = l >= r;
      return l;
    case BinaryOp::kLte:
      *keep = l <= r;
      return l;
    default:
      *keep = false;
      return l;
  }
}

double ScalarBinop(BinaryOp op, double l, double r) {
  bool keep = true;
  double v = VectorElemBinop(op, l, r, &keep);
  if (IsComparison(op)) return keep ? 1.0 : 0.0;
  return v;
}

StatusOr<Matrix> Evaluator::EvalBinary(const BinaryExpr& b) {
  const ValueType lt = b.lhs->Type(), rt = b.rhs->Type();
  std::vector<const Expr*> exprs = {b.lhs.get(), b.rhs.get()};
  if (lt == ValueType::kScalar && rt == ValueType::kScalar) {
    static const tsdb::Labels kNoLabels;
    return RangeEval(exprs, nullptr, [&b](const StepArgs& in, StepOutput* out) {
      double v = ScalarBinop(b.op, std::get<Scalar>(in.args[0]).v, std::get<Scalar>(in.args[1]).v);
      out->AddStable(&kNoLabels, v);
      return Status::OK();
    });
  }
  if (lt == ValueType::kVector && rt == ValueType::kVector) {
    VectorMatching defaults;
    if (IsSetOperator(b.op)) defaults.card = VectorMatching::Card::kManyToMany;
    const VectorMatching& m = b.matching ? *b.matching : defaults;
    VectorMatcher matcher(b, m);
    return RangeEval(
        exprs, [&](const std::vector<const Matrix*>& a) { return matcher.Prepare(a); },
        [&](const StepArgs& in, StepOutput* out) { return matcher.Step(in, out); });
  }
  VectorScalarOp op(b, lt == ValueType::kScalar);
  return RangeEval(exprs, nullptr,
                   [&op](const StepArgs& in, StepOutput* out) { return op.Step(in, out); });
}

}  // namespace steward::promql::eval
