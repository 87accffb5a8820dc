// Go's math package as Prometheus 2.42 runs it on amd64, bit for bit: Exp is Go's assembly
// (exp_amd64.s, with its FMA variant chosen at run time like Go's useFMA), the trigonometric
// and hyperbolic functions are Go's pure-Go ports of Cephes and FreeBSD, built on that Exp and
// on GoLog (functions_internal.h). The C library rounds differently in the last bit, overflows
// at other points (Go's Exp(709.7) is +Inf) and reduces huge arguments of sin differently,
// which count_values labels, comparisons and sin(exp(x)) would show.
//
// Contract: same special cases as Go (documented in its math package). Thread safety: pure
// functions; the CPU check behind GoExp is done once, thread-safely.
#pragma once

namespace steward::promql::internal {

double GoExp(double x);
// GoExp with the FMA or the plain SSE2 path forced, for tests on any CPU.
double GoExpForCpu(double x, bool fma);
double GoLog1p(double x);

double GoSin(double x);
double GoCos(double x);
double GoTan(double x);
double GoAsin(double x);
double GoAcos(double x);
double GoAtan(double x);

double GoSinh(double x);
double GoCosh(double x);
double GoTanh(double x);
double GoAsinh(double x);
double GoAcosh(double x);
double GoAtanh(double x);

}  // namespace steward::promql::internal
