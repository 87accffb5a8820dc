// Ports of Go's math functions (see go_math.h), operation for operation in the same order, so
// that the same IEEE roundings happen. Built without contraction into FMA (the default
// x86-64 target has none), as Go's amd64 compiler never fuses a*b+c itself.
#include "promql/go_math.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "promql/functions_internal.h"

namespace steward::promql::internal {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInf = std::numeric_limits<double>::infinity();
double NaN() { return std::numeric_limits<double>::quiet_NaN(); }

// Go's shifts: a count of 64 or more gives 0 (C++ leaves it undefined).
uint64_t Shl(uint64_t v, unsigned n) { return n >= 64 ? 0 : v << n; }
uint64_t Shr(uint64_t v, unsigned n) { return n >= 64 ? 0 : v >> n; }

// Go's useFMA: cpu.X86.HasAVX && cpu.X86.HasFMA.
bool CpuHasAvxFma() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool has = __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

// Payne-Hanek reduction of x >= 2^29 by Pi/4 (Go's trigReduce): the octant j (mod 8, made
// even) and the remainder z, from x's mantissa times 4/Pi's bits.
constexpr uint64_t kFourOverPiBits[] = {
    0x0000000000000001, 0x45f306dc9c882a53, 0xf84eafa3ea69bb81, 0xb6c52b3278872083,
    0xfca2c757bd778ac3, 0x6e48dc74849ba5c0, 0x0c925dd413a32439, 0xfc3bd63962534e7d,
    0xd1046bea5d768909, 0xd338e04d68befc82, 0x7323ac7306a673e9, 0x3908bf177bf25076,
    0x3ff12fffbc0b301f, 0xde5e2316b414da3e, 0xda6cfd9e4f96136e, 0x9e8c7ecd3cbfd45a,
    0xea4f758fd7cbe2f6, 0x7a0e73ef14a525d4, 0xd7f6bf623f1aba10, 0xac06608df8f6d757,
};

void TrigReduce(double x, uint64_t* j, double* z) {
  constexpr double kPi4 = kPi / 4;
  if (x < kPi4) {
    *j = 0;
    *z = x;
    return;
  }
  uint64_t ix = std::bit_cast<uint64_t>(x);
  const int exp = static_cast<int>((ix >> 52) & 0x7FF) - 1023 - 52;
  ix &= ~(uint64_t{0x7FF} << 52);
  ix |= uint64_t{1} << 52;
  const unsigned digit = static_cast<unsigned>(exp + 61) / 64;
  const unsigned shift = static_cast<unsigned>(exp + 61) % 64;
  const uint64_t* b = kFourOverPiBits + digit;
  const uint64_t z0 = Shl(b[0], shift) | Shr(b[1], 64 - shift);
  const uint64_t z1 = Shl(b[1], shift) | Shr(b[2], 64 - shift);
  const uint64_t z2 = Shl(b[2], shift) | Shr(b[3], 64 - shift);
  using u128 = unsigned __int128;
  const uint64_t z2hi = static_cast<uint64_t>((u128{z2} * ix) >> 64);
  const u128 z1prod = u128{z1} * ix;
  const uint64_t z1hi = static_cast<uint64_t>(z1prod >> 64);
  const uint64_t z1lo = static_cast<uint64_t>(z1prod);
  const uint64_t z0lo = z0 * ix;
  const uint64_t lo = z1lo + z2hi;
  const uint64_t carry = lo < z1lo ? 1 : 0;
  uint64_t hi = z0lo + z1hi + carry;
  *j = hi >> 61;
  hi = hi << 3 | lo >> 61;
  const unsigned lz = static_cast<unsigned>(std::countl_zero(hi));
  const uint64_t e = static_cast<uint64_t>(1023 - (lz + 1));
  hi = Shl(hi, lz + 1) | Shr(lo, 64 - (lz + 1));
  hi >>= 64 - 52;
  hi |= e << 52;
  double frac = std::bit_cast<double>(hi);
  if (*j & 1) {
    *j = (*j + 1) & 7;
    frac--;
  }
  *z = frac * kPi4;
}

// x >= 0 reduced to an octant j (made even) and the remainder z in [-Pi/4, Pi/4].
void ReduceByPi4(double x, uint64_t* j, double* z) {
  constexpr double kPi4A = 7.85398125648498535156e-1;  // Pi/4 in three parts
  constexpr double kPi4B = 3.77489470793079817668e-8;
  constexpr double kPi4C = 2.69515142907905952645e-15;
  constexpr double kFourOverPi = 1.2732395447351628;  // 0x3ff45f306dc9c883, Go's 4/Pi
  if (x >= (1 << 29)) {
    TrigReduce(x, j, z);
    return;
  }
  *j = static_cast<uint64_t>(x * kFourOverPi);
  double y = static_cast<double>(*j);
  if (*j & 1) {
    ++*j;
    ++y;
  }
  *j &= 7;
  *z = ((x - y * kPi4A) - y * kPi4B) - y * kPi4C;
}

double SinPoly(double z, double zz) {
  constexpr double s0 = 1.58962301576546568060e-10, s1 = -2.50507477628578072866e-8,
                   s2 = 2.75573136213857245213e-6, s3 = -1.98412698295895385996e-4,
                   s4 = 8.33333333332211858878e-3, s5 = -1.66666666666666307295e-1;
  return z + z * zz * ((((((s0 * zz) + s1) * zz + s2) * zz + s3) * zz + s4) * zz + s5);
}

double CosPoly(double zz) {
  constexpr double c0 = -1.13585365213876817300e-11, c1 = 2.08757008419747316778e-9,
                   c2 = -2.75573141792967388112e-7, c3 = 2.48015872888517045348e-5,
                   c4 = -1.38888888888730564116e-3, c5 = 4.16666666666665929218e-2;
  return 1.0 - 0.5 * zz +
         zz * zz * ((((((c0 * zz) + c1) * zz + c2) * zz + c3) * zz + c4) * zz + c5);
}

// Arctangent of x in [0, 0.66] (Go's xatan), and of any x >= 0 (satan).
double XAtan(double x) {
  constexpr double p0 = -8.750608600031904122785e-01, p1 = -1.615753718733365076637e+01,
                   p2 = -7.500855792314704667340e+01, p3 = -1.228866684490136173410e+02,
                   p4 = -6.485021904942025371773e+01, q0 = +2.485846490142306297962e+01,
                   q1 = +1.650270098316988542046e+02, q2 = +4.328810604912902668951e+02,
                   q3 = +4.853903996359136964868e+02, q4 = +1.945506571482613964425e+02;
  double z = x * x;
  z = z * ((((p0 * z + p1) * z + p2) * z + p3) * z + p4) /
      (((((z + q0) * z + q1) * z + q2) * z + q3) * z + q4);
  return x * z + x;
}

double SAtan(double x) {
  constexpr double kMorebits = 6.123233995736765886130e-17;  // Pi/2 = double(Pi/2) + this
  constexpr double kTan3Pi8 = 2.41421356237309504880;
  if (x <= 0.66) return XAtan(x);
  if (x > kTan3Pi8) return kPi / 2 - XAtan(1 / x) + kMorebits;
  return kPi / 4 + XAtan((x - 1) / (x + 1)) + 0.5 * kMorebits;
}

}  // namespace

double GoExpForCpu(double x, bool fma) {
  constexpr double kLog2e = 1.4426950408889634073599246810018920;
  constexpr double kLn2U = 0.69314718055966295651160180568695068359375;
  constexpr double kLn2L = 0.28235290563031577122588448175013436025525412068e-12;
  constexpr double kOverflow = 7.09782712893384e+02;
  constexpr double c[] = {0.5,
                          1.0,
                          2.0,
                          1.6666666666666666667e-1,
                          4.1666666666666666667e-2,
                          8.3333333333333333333e-3,
                          1.3888888888888888889e-3,
                          1.9841269841269841270e-4,
                          2.4801587301587301587e-5};
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  if ((bits & ~(uint64_t{1} << 63)) >= 0x7FF0000000000000ULL) {
    return x == -kInf ? 0 : x;  // NaN, +Inf
  }
  if (x > kOverflow) return kInf;
  // CVTSD2SL: round to nearest even; out of int32's range it gives INT32_MIN (underflow).
  const double scaled = kLog2e * x;
  int32_t k = scaled < -2147483648.0 ? std::numeric_limits<int32_t>::min()
                                     : static_cast<int32_t>(std::nearbyint(scaled));
  const double kd = static_cast<double>(k);
  double r;
  if (fma) {
    r = std::fma(-kd, kLn2U, x);
    r = std::fma(-kd, kLn2L, r);
    r *= 0.0625;
    double p = c[8];
    for (int i : {7, 6, 5, 4, 3, 0, 1}) p = std::fma(r, p, c[i]);
    r *= p;
    for (int i = 0; i < 3; ++i) r *= r + 2.0;
    r = std::fma(r + 2.0, r, 1.0);
  } else {
    r = x - kd * kLn2U;
    r = r - kd * kLn2L;
    r *= 0.0625;
    double p = c[8];
    for (int i : {7, 6, 5, 4, 3, 0, 1}) p = p * r + c[i];
    r *= p;
    for (int i = 0; i < 4; ++i) r *= r + 2.0;
    r += 1.0;
  }
  // r * 2^k, with the biased exponent built directly: no gradual underflow, as in Go.
  const int64_t biased = int64_t{k} + 0x3FF;
  if (biased <= 0) return 0;
  if (biased >= 0x7FF) return kInf;
  return r * std::bit_cast<double>(static_cast<uint64_t>(biased) << 52);
}

double GoExp(double x) { return GoExpForCpu(x, CpuHasAvxFma()); }

double GoLog1p(double x) {
  constexpr double kSqrt2M1 = 4.142135623730950488017e-01;
  constexpr double kSqrt2HalfM1 = -2.928932188134524755992e-01;
  constexpr double kSmall = 1.0 / (1 << 29);
  constexpr double kTiny = 1.0 / (uint64_t{1} << 54);
  constexpr double kTwo53 = static_cast<double>(uint64_t{1} << 53);
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double lp1 = 6.666666666666735130e-01, lp2 = 3.999999999940941908e-01,
                   lp3 = 2.857142874366239149e-01, lp4 = 2.222219843214978396e-01,
                   lp5 = 1.818357216161805012e-01, lp6 = 1.531383769920937332e-01,
                   lp7 = 1.479819860511658591e-01;
  if (x < -1 || std::isnan(x)) return NaN();
  if (x == -1) return -kInf;
  if (x == kInf) return kInf;
  const double absx = std::fabs(x);
  double f = 0;
  uint64_t iu = 0;
  int k = 1;
  if (absx < kSqrt2M1) {
    if (absx < kSmall) return absx < kTiny ? x : x - x * x * 0.5;
    if (x > kSqrt2HalfM1) {
      k = 0;
      f = x;
      iu = 1;
    }
  }
  double c = 0;
  if (k != 0) {
    double u;
    if (absx < kTwo53) {
      u = 1.0 + x;
      iu = std::bit_cast<uint64_t>(u);
      k = static_cast<int>((iu >> 52) - 1023);
      c = k > 0 ? 1.0 - (u - x) : x - (u - 1.0);  // the rounding lost in 1+x
      c /= u;
    } else {
      u = x;
      iu = std::bit_cast<uint64_t>(u);
      k = static_cast<int>((iu >> 52) - 1023);
    }
    iu &= 0x000fffffffffffffULL;
    if (iu < 0x0006a09e667f3bcdULL) {
      u = std::bit_cast<double>(iu | 0x3ff0000000000000ULL);
    } else {
      ++k;
      u = std::bit_cast<double>(iu | 0x3fe0000000000000ULL);
      iu = (0x0010000000000000ULL - iu) >> 2;
    }
    f = u - 1.0;
  }
  const double hfsq = 0.5 * f * f;
  const double dk = static_cast<double>(k);
  if (iu == 0) {
    if (f == 0) {
      if (k == 0) return 0;
      c += dk * kLn2Lo;
      return dk * kLn2Hi + c;
    }
    const double r = hfsq * (1.0 - 0.66666666666666666 * f);
    if (k == 0) return f - r;
    return dk * kLn2Hi - ((r - (dk * kLn2Lo + c)) - f);
  }
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double r = z * (lp1 + z * (lp2 + z * (lp3 + z * (lp4 + z * (lp5 + z * (lp6 + z * lp7))))));
  if (k == 0) return f - (hfsq - s * (hfsq + r));
  return dk * kLn2Hi - ((hfsq - (s * (hfsq + r) + (dk * kLn2Lo + c))) - f);
}

double GoSin(double x) {
  if (x == 0 || std::isnan(x)) return x;
  if (std::isinf(x)) return NaN();
  bool negative = x < 0;
  uint64_t j;
  double z;
  ReduceByPi4(std::fabs(x), &j, &z);
  if (j > 3) {
    negative = !negative;
    j -= 4;
  }
  const double zz = z * z;
  const double y = (j == 1 || j == 2) ? CosPoly(zz) : SinPoly(z, zz);
  return negative ? -y : y;
}

double GoCos(double x) {
  if (std::isnan(x) || std::isinf(x)) return NaN();
  bool negative = false;
  uint64_t j;
  double z;
  ReduceByPi4(std::fabs(x), &j, &z);
  if (j > 3) {
    j -= 4;
    negative = !negative;
  }
  if (j > 1) negative = !negative;
  const double zz = z * z;
  const double y = (j == 1 || j == 2) ? SinPoly(z, zz) : CosPoly(zz);
  return negative ? -y : y;
}

double GoTan(double x) {
  constexpr double p0 = -1.30936939181383777646e4, p1 = 1.15351664838587416140e6,
                   p2 = -1.79565251976484877988e7;
  constexpr double q1 = 1.36812963470692954678e4, q2 = -1.32089234440210967447e6,
                   q3 = 2.50083801823357915839e7, q4 = -5.38695755929454629881e7;
  if (x == 0 || std::isnan(x)) return x;
  if (std::isinf(x)) return NaN();
  uint64_t j;
  double z;
  ReduceByPi4(std::fabs(x), &j, &z);  // Go's tan does not reduce j mod 8; only j&2 matters
  const double zz = z * z;
  double y = z;
  if (zz > 1e-14) {
    y = z + z * (zz * (((p0 * zz) + p1) * zz + p2) / ((((zz + q1) * zz + q2) * zz + q3) * zz + q4));
  }
  if (j & 2) y = -1 / y;
  return x < 0 ? -y : y;
}

double GoAsin(double x) {
  if (x == 0) return x;
  const bool negative = x < 0;
  x = std::fabs(x);
  if (x > 1) return NaN();
  double t = std::sqrt(1 - x * x);
  t = x > 0.7 ? kPi / 2 - SAtan(t / x) : SAtan(x / t);
  return negative ? -t : t;
}

double GoAcos(double x) { return kPi / 2 - GoAsin(x); }

double GoAtan(double x) {
  if (x == 0) return x;
  return x > 0 ? SAtan(x) : -SAtan(-x);
}

double GoSinh(double x) {
  constexpr double p0 = -0.6307673640497716991184787251e+6, p1 = -0.8991272022039509355398013511e+5,
                   p2 = -0.2894211355989563807284660366e+4, p3 = -0.2630563213397497062819489e+2,
                   q0 = -0.6307673640497716991212077277e+6, q1 = 0.1521517378790019070696485176e+5,
                   q2 = -0.173678953558233699533450911e+3;
  const bool negative = x < 0;
  x = std::fabs(x);
  double t;
  if (x > 21) {
    t = GoExp(x) / 2;
  } else if (x > 0.5) {
    t = (GoExp(x) - GoExp(-x)) / 2;
  } else {
    const double sq = x * x;
    t = (((p3 * sq + p2) * sq + p1) * sq + p0) * x;
    t = t / (((sq + q2) * sq + q1) * sq + q0);
  }
  return negative ? -t : t;
}

double GoCosh(double x) {
  x = std::fabs(x);
  if (x > 21) return GoExp(x) / 2;
  return (GoExp(x) + GoExp(-x)) / 2;
}

double GoTanh(double x) {
  constexpr double kMaxLog = 8.8029691931113054295988e+01;
  constexpr double p0 = -9.64399179425052238628E-1, p1 = -9.92877231001918586564E1,
                   p2 = -1.61468768441708447952E3;
  constexpr double q0 = 1.12811678491632931402E2, q1 = 2.23548839060100448583E3,
                   q2 = 4.84406305325125486048E3;
  double z = std::fabs(x);
  if (z > 0.5 * kMaxLog) return x < 0 ? -1 : 1;
  if (z >= 0.625) {
    const double s = GoExp(2 * z);
    z = 1 - 2 / (s + 1);
    return x < 0 ? -z : z;
  }
  if (x == 0) return x;
  const double s = x * x;
  return x + x * s * ((p0 * s + p1) * s + p2) / (((s + q0) * s + q1) * s + q2);
}

double GoAsinh(double x) {
  constexpr double kLn2 = 6.93147180559945286227e-01;
  constexpr double kNearZero = 1.0 / (1 << 28);
  constexpr double kLarge = 1 << 28;
  if (std::isnan(x) || std::isinf(x)) return x;
  const bool negative = x < 0;
  x = std::fabs(x);
  double t;
  if (x > kLarge) {
    t = GoLog(x) + kLn2;
  } else if (x > 2) {
    t = GoLog(2 * x + 1 / (std::sqrt(x * x + 1) + x));
  } else if (x < kNearZero) {
    t = x;
  } else {
    t = GoLog1p(x + x * x / (1 + std::sqrt(1 + x * x)));
  }
  return negative ? -t : t;
}

double GoAcosh(double x) {
  constexpr double kLn2 = 6.93147180559945286227e-01;
  constexpr double kLarge = 1 << 28;
  if (x < 1 || std::isnan(x)) return NaN();
  if (x == 1) return 0;
  if (x >= kLarge) return GoLog(x) + kLn2;
  if (x > 2) return GoLog(2 * x - 1 / (x + std::sqrt(x * x - 1)));
  const double t = x - 1;
  return GoLog1p(t + std::sqrt(2 * t + t * t));
}

double GoAtanh(double x) {
  constexpr double kNearZero = 1.0 / (1 << 28);
  if (x < -1 || x > 1 || std::isnan(x)) return NaN();
  if (x == 1) return kInf;
  if (x == -1) return -kInf;
  const bool negative = x < 0;
  x = std::fabs(x);
  double t;
  if (x < kNearZero) {
    t = x;
  } else if (x < 0.5) {
    t = x + x;
    t = 0.5 * GoLog1p(t + t * x / (1 - x));
  } else {
    t = 0.5 * GoLog1p((x + x) / (1 - x));
  }
  return negative ? -t : t;
}

}  // namespace steward::promql::internal
