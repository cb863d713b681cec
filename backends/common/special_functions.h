// Scalar special functions that neither the C++ library nor CUDA's math
// library has: digamma, polygamma, the log of the normal CDF and erfinv. They are
// shared by the CPU kernels and the CUDA functors (host and device code), so
// both backends compute the same values, and they compute in double for f32
// too. Edge values follow PyTorch 1.13, whose algorithms (Cephes') these are.
#pragma once

#include <cmath>

#include "integer_arithmetic.h"  // TETHER_HOST_DEVICE

namespace tether::backend::special {

inline constexpr double kPi = 3.14159265358979323846;

/// The Hurwitz zeta function sum_{k >= 0} (k + q)^-s for s > 1 (Cephes'
/// zeta): direct terms until q + k > 9, then the Euler-Maclaurin tail, whose
/// coefficients are (2j)! / B_2j. +inf at q = 0, -1, -2, ... (and -inf), as
/// PyTorch's.
TETHER_HOST_DEVICE inline double hurwitz_zeta(double s, double q) {
  constexpr double kMachineEpsilon = 1.11022302462515654042e-16;
  constexpr double kTail[] = {12.0,
                              -720.0,
                              30240.0,
                              -1209600.0,
                              47900160.0,
                              -1.8924375803183791606e9,
                              7.47242496e10,
                              -2.950130727918164224e12,
                              1.1646782814350067249e14,
                              -4.5979787224074726105e15,
                              1.8152105401943546773e17,
                              -7.1661652561756670113e18};
  if (q <= 0.0 && q == floor(q)) return INFINITY;
  double sum = pow(q, -s), a = q, term = 0.0;
  for (int i = 0; i < 9 || a <= 9.0; ++i) {
    a += 1.0;
    term = pow(a, -s);
    sum += term;
    if (fabs(term / sum) < kMachineEpsilon) return sum;
  }
  const double w = a;
  sum += term * w / (s - 1.0) - 0.5 * term;
  double rising = 1.0, k = 0.0;  // s (s + 1) ... (s + 2j - 2)
  for (const double coefficient : kTail) {
    rising *= s + k;
    term /= w;
    const double correction = rising * term / coefficient;
    sum += correction;
    if (fabs(correction / sum) < kMachineEpsilon) break;
    k += 1.0;
    rising *= s + k;
    term /= w;
    k += 1.0;
  }
  return sum;
}

/// psi(x) = d/dx lgamma(x): -inf at +0, +inf at -0, NaN at negative integers
/// and -inf (PyTorch's). Reflection for x < 0, the recurrence
/// psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series
/// log x - 1/(2x) - sum_j B_2j / (2j x^2j).
TETHER_HOST_DEVICE inline double digamma(double x) {
  if (x == 0.0) return copysign(INFINITY, -x);
  if (x < 0.0) {
    if (x == trunc(x)) return NAN;
    // tan(pi * fractional part) keeps the precision tan(pi * x) loses for large |x|.
    return digamma(1.0 - x) - kPi / tan(kPi * (x - trunc(x)));
  }
  double result = 0.0;
  for (; x < 10.0; x += 1.0) result -= 1.0 / x;
  if (x >= 1e17) return result + log(x);  // the series is below an ulp there
  const double z = 1.0 / (x * x);
  const double series =
      z *
      (1.0 / 12 +
       z * (-1.0 / 120 +
            z * (1.0 / 252 + z * (-1.0 / 240 + z * (1.0 / 132 + z * (-691.0 / 32760 + z / 12))))));
  return result + log(x) - 0.5 / x - series;
}

/// psi^(n)(x), the n-th derivative of digamma, for n >= 0. n = 1 (trigamma)
/// reflects x < 1/2 as PyTorch does (pi^2 / sin^2(pi x) - psi'(1 - x): +inf
/// at 0, huge but finite at the negative integers, where sin(pi x) is not
/// exactly 0); n >= 2 is (-1)^(n+1) n! zeta(n + 1, x).
TETHER_HOST_DEVICE inline double polygamma(int n, double x) {
  if (n == 0) return digamma(x);
  if (n == 1) {
    if (x == INFINITY) return 0.0;  // the zeta sum below would give inf * 0
    if (x < 0.5) {
      const double sine = sin(kPi * x);
      return kPi * kPi / (sine * sine) - hurwitz_zeta(2.0, 1.0 - x);
    }
    return hurwitz_zeta(2.0, x);
  }
  const double sign = n % 2 == 1 ? 1.0 : -1.0;
  return sign * exp(lgamma(n + 1.0)) * hurwitz_zeta(n + 1.0, x);
}

/// 1 + sum_{k=1..8} (-1)^k (2k-1)!! / (2y^2)^k, the series in
/// erfc(y) = exp(-y^2) / (y sqrt(pi)) * series(y): at y >= 20 the terms left
/// out are below 1e-18.
TETHER_HOST_DEVICE inline double erfc_asymptotic_series(double y) {
  const double w = 0.5 / (y * y);
  double term = 1.0, series = 1.0;
  for (int k = 1; k <= 8; ++k) {
    term *= -(2 * k - 1) * w;
    series += term;
  }
  return series;
}

inline constexpr double kSqrtHalf = 0.70710678118654752440;
/// Where log_ndtr and its slope leave erfc for erfc_asymptotic_series: below
/// x = -20 sqrt2, well before erfc underflows near x = -37.5.
inline constexpr double kAsymptoticTail = 20.0;

/// log Phi(x), the log of the standard normal CDF Phi(x) = erfc(-x/sqrt2)/2,
/// accurate for all x (torch.special.log_ndtr). Three ranges:
///   x >= -1:              log1p(-erfc(x/sqrt2)/2), which keeps 1 - Phi(x) when it is tiny;
///   -20 sqrt2 <= x < -1:  log(erfc(y)/2) with y = -x/sqrt2, erfc being accurate there;
///   below:                log erfc(y) = -y^2 - log(y sqrt(pi)) + log(series(y)), by
///                         the asymptotic series (no erfcx scaling).
TETHER_HOST_DEVICE inline double log_ndtr(double x) {
  if (x >= -1.0) return log1p(-0.5 * erfc(x * kSqrtHalf));
  const double y = -x * kSqrtHalf;
  if (y <= kAsymptoticTail) return log(0.5 * erfc(y));
  return -y * y - log(2.0 * y * sqrt(kPi)) + log(erfc_asymptotic_series(y));
}

/// d/dx log_ndtr(x) = phi(x) / Phi(x), over the same ranges as log_ndtr. In
/// the far left tail it is -x / series(y), which exp(log phi - log Phi) would
/// lose to cancellation (both logs near -x^2/2).
TETHER_HOST_DEVICE inline double log_ndtr_slope(double x) {
  const double y = -x * kSqrtHalf;
  if (y > kAsymptoticTail) return -x / erfc_asymptotic_series(y);
  const double density = exp(-0.5 * x * x) / sqrt(2.0 * kPi);
  return density / (0.5 * erfc(y));
}

/// The inverse of erf on [-1, 1]: +-inf at +-1, NaN outside and at NaN.
/// Giles' single-precision approximation ("Approximating the erfinv
/// function", 2010) as the start, then Newton steps, as PyTorch's calc_erfinv
/// polishes its own start. For |y| < 1/2 they solve erf(x) = |y|: two steps
/// square the start's relative error twice, 1e-7 -> 1e-14 -> 1e-16. For |y|
/// >= 1/2 they solve log erfc(x) = log(1 - |y|), where 1 - |y| is exact and
/// erf(x) would round to 1 long before the tail (erfinv(1 - 1e-16) = 5.86);
/// there the start is poor beyond f32's range and log erfc, close to -x^2,
/// needs four steps.
TETHER_HOST_DEVICE inline double erfinv(double y) {
  constexpr double kCentral[] = {2.81022636e-08,  3.43273939e-07, -3.5233877e-06,
                                 -4.39150654e-06, 0.00021858087,  -0.00125372503,
                                 -0.00417768164,  0.246640727,    1.50140941};
  constexpr double kTail[] = {-0.000200214257, 0.000100950558, 0.00134934322,
                              -0.00367342844,  0.00573950773,  -0.0076224613,
                              0.00943887047,   1.00167406,     2.83297682};
  const double a = fabs(y);
  if (!(a <= 1.0)) return NAN;
  if (a == 1.0) return y * INFINITY;
  const double w = -log((1.0 - a) * (1.0 + a));
  const bool central = w < 5.0;
  const double t = central ? w - 2.5 : sqrt(w) - 3.0;
  double p = 0.0;  // Horner's rule over the chosen coefficients
  for (const double c : central ? kCentral : kTail) p = c + p * t;
  double x = p * a;
  const bool tail = a >= 0.5;
  for (int step = 0; step < (tail ? 4 : 2); ++step) {
    const double slope = 2.0 / sqrt(kPi) * exp(-x * x);  // d/dx erf(x)
    if (tail) {
      const double complement = erfc(x);
      x += (log(complement) - log(1.0 - a)) * complement / slope;
    } else {
      x -= (erf(x) - a) / slope;
    }
  }
  return copysign(x, y);
}
}  // namespace tether::backend::special
