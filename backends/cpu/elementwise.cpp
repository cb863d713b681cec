// Element-wise kernels: fill, copy, binary and where (unary ops are in
// unary.cpp). Each op is one lambda over Eigen array expressions;
// map_elementwise (strided.h) applies it to contiguous, broadcast and strided
// rows alike.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {
namespace {

/// Integer division (WrappingDiv) that throws for a zero divisor instead of trapping.
struct CheckedIntegerDivide {
  std::int64_t operator()(std::int64_t a, std::int64_t b) const {
    if (b == 0) fail<ValueError>("div: integer division by zero");
    return WrappingDiv()(a, b);
  }
};

/// Integer power (WrappingPow) that throws for a negative exponent.
struct CheckedIntegerPow {
  std::int64_t operator()(std::int64_t base, std::int64_t exponent) const {
    if (exponent < 0) fail<ValueError>("pow: integers to negative integer powers are not allowed");
    return WrappingPow()(base, exponent);
  }
};

/// std::pow, which is exact where the result is representable (6^3 == 216);
/// Eigen's vectorised pow can be an ulp off there.
template <class T>
struct ScalarPow {
  T operator()(T base, T exponent) const { return std::pow(base, exponent); }
};

/// x `f` y element-wise for a scalar functor `f` (not vectorised).
template <class F>
auto by_element(F f) {
  return [f](const auto& x, const auto& y) { return x.binaryExpr(y, f); };
}

template <class T>
void binary_typed(BinaryOp op, const Shape& shape, const Operand<const T>& a,
                  const Operand<const T>& b, const Operand<T>& out) {
  const auto run = [&](const auto& f) { map_elementwise(f, shape, out, a, b); };
  // Comparisons yield bool expressions; the output holds them as 1 or 0.
  const auto compare = [&](const auto& predicate) {
    run([&](const auto& x, const auto& y) { return predicate(x, y).template cast<T>(); });
  };
  switch (op) {
    // Integers wrap around on overflow (integer_arithmetic.h).
    case BinaryOp::add:
      if constexpr (std::is_integral_v<T>)
        return run(by_element(WrappingAdd()));
      else
        return run([](const auto& x, const auto& y) { return x + y; });
    case BinaryOp::sub:
      if constexpr (std::is_integral_v<T>)
        return run(by_element(WrappingSub()));
      else
        return run([](const auto& x, const auto& y) { return x - y; });
    case BinaryOp::mul:
      if constexpr (std::is_integral_v<T>)
        return run(by_element(WrappingMul()));
      else
        return run([](const auto& x, const auto& y) { return x * y; });
    case BinaryOp::div:
      if constexpr (std::is_integral_v<T>)
        return run(by_element(CheckedIntegerDivide()));
      else
        return run([](const auto& x, const auto& y) { return x / y; });
    case BinaryOp::pow:
      if constexpr (std::is_integral_v<T>)
        return run(by_element(CheckedIntegerPow()));
      else
        return run(by_element(ScalarPow<T>()));
    case BinaryOp::maximum:
      return run(
          [](const auto& x, const auto& y) { return x.binaryExpr(y, NanPropagatingMax<T>()); });
    case BinaryOp::minimum:
      return run(
          [](const auto& x, const auto& y) { return x.binaryExpr(y, NanPropagatingMin<T>()); });
    case BinaryOp::eq:
      return compare([](const auto& x, const auto& y) { return x == y; });
    case BinaryOp::ne:
      return compare([](const auto& x, const auto& y) { return x != y; });
    case BinaryOp::lt:
      return compare([](const auto& x, const auto& y) { return x < y; });
    case BinaryOp::le:
      return compare([](const auto& x, const auto& y) { return x <= y; });
    case BinaryOp::gt:
      return compare([](const auto& x, const auto& y) { return x > y; });
    case BinaryOp::ge:
      return compare([](const auto& x, const auto& y) { return x >= y; });
  }
}

}  // namespace

void CpuBackend::fill(const Tensor& out, double value) {
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    fill_elements(out.shape(), operand<T>(out), saturate_cast<T>(value));
  });
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  const Strides source_strides = broadcast_strides("copy", src, dst.shape());
  visit_dtype(src.dtype(), [&](auto source_type) {
    using S = typename decltype(source_type)::type;
    const Operand<const S> source{src.data_ptr<S>(), &source_strides};
    visit_dtype(dst.dtype(), [&](auto dest_type) {
      using D = typename decltype(dest_type)::type;
      // Floating to integer saturates (a NaN, an infinity, 1e30 into i64);
      // Eigen's cast would be undefined there.
      const auto convert = [](const auto& x) {
        if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>)
          return x.unaryExpr([](S value) { return saturate_cast<D>(value); });
        else
          return x.template cast<D>();
      };
      map_elementwise(convert, dst.shape(), operand<D>(dst), source);
    });
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    binary_typed<T>(op, out.shape(), operand<const T>(a), operand<const T>(b), operand<T>(out));
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_dtype(cond.dtype(), [&](auto cond_type) {
    using C = typename decltype(cond_type)::type;
    visit_dtype(out.dtype(), [&](auto type) {
      using T = typename decltype(type)::type;
      map_elementwise(
          [](const auto& c, const auto& x, const auto& y) { return (c != C(0)).select(x, y); },
          out.shape(), operand<T>(out), operand<const C>(cond), operand<const T>(a),
          operand<const T>(b));
    });
  });
}

}  // namespace tether::backend::cpu
