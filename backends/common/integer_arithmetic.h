// Integer arithmetic and conversions to integers without undefined behaviour,
// shared by the CPU kernels and the CUDA functors (host and device code).
//
// In C++, signed overflow is undefined, and so is converting NaN, an infinity
// or an out-of-range floating value to an integer. PyTorch's integer add, sub,
// mul, neg, abs and sum wrap around (two's complement): the Wrapping functors
// compute in unsigned arithmetic, which wraps, and convert back, which C++20
// defines as modulo 2^64. Conversions to an integer saturate (saturate_cast).
#pragma once

#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#define TETHER_HOST_DEVICE __host__ __device__
#else
#define TETHER_HOST_DEVICE
#endif

namespace tether::backend {

/// `value` as To. To an integer, a value beyond the range saturates to the
/// nearer bound, and NaN gives the lowest integer (what x86's conversion gives
/// for all three, and PyTorch with it for `.to(torch.int64)`). To bool, any
/// nonzero value (NaN included) is true, as PyTorch's `.to(torch.bool)`.
template <class To, class From>
TETHER_HOST_DEVICE To saturate_cast(From value) {
  if constexpr (std::is_same_v<To, bool>) {
    return value != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    // INT64_MIN and INT64_MAX rather than numeric_limits, whose members are
    // host functions; int64 is the one integer dtype.
    static_assert(std::is_same_v<To, std::int64_t>, "saturate_cast: int64 is the integer dtype");
    if (!(value > static_cast<From>(INT64_MIN))) return INT64_MIN;
    if (value >= static_cast<From>(INT64_MAX)) return INT64_MAX;  // INT64_MAX rounds up to 2^63
  }
  return static_cast<To>(value);
}

/// An int64 as its two's-complement bits, and back.
TETHER_HOST_DEVICE inline std::uint64_t to_bits(std::int64_t x) {
  return static_cast<std::uint64_t>(x);
}
TETHER_HOST_DEVICE inline std::int64_t from_bits(std::uint64_t bits) {
  return static_cast<std::int64_t>(bits);
}

/// a + b, wrapping around.
struct WrappingAdd {
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t a, std::int64_t b) const {
    return from_bits(to_bits(a) + to_bits(b));
  }
};
/// a - b, wrapping around.
struct WrappingSub {
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t a, std::int64_t b) const {
    return from_bits(to_bits(a) - to_bits(b));
  }
};
/// a * b, wrapping around.
struct WrappingMul {
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t a, std::int64_t b) const {
    return from_bits(to_bits(a) * to_bits(b));
  }
};
/// -a, wrapping around: -INT64_MIN is INT64_MIN.
struct WrappingNeg {
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t a) const {
    return from_bits(0 - to_bits(a));
  }
};
/// |a|, wrapping around: |INT64_MIN| is INT64_MIN, as in PyTorch.
struct WrappingAbs {
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t a) const {
    return a < 0 ? WrappingNeg()(a) : a;
  }
};
/// a / b truncated toward zero, for b != 0 (the caller reports a zero divisor):
/// INT64_MIN / -1 wraps around to INT64_MIN.
struct WrappingDiv {
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t a, std::int64_t b) const {
    return b == -1 ? WrappingNeg()(a) : a / b;
  }
};
/// base ^ exponent by squaring, wrapping around, for exponent >= 0 (the caller
/// reports a negative one, whose power is not an integer).
struct WrappingPow {
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t base, std::int64_t exponent) const {
    std::uint64_t result = 1, factor = to_bits(base);
    for (std::uint64_t e = to_bits(exponent); e != 0; e >>= 1, factor *= factor)
      if (e & 1) result *= factor;
    return from_bits(result);
  }
};
/// a * scale + shift, wrapping around (the integer affine op).
struct WrappingAffine {
  std::int64_t scale, shift;
  TETHER_HOST_DEVICE std::int64_t operator()(std::int64_t a) const {
    return WrappingAdd()(WrappingMul()(a, scale), shift);
  }
};

}  // namespace tether::backend
