// Element-wise kernels: fill, copy, binary and where (unary ops are in
// unary.cpp). Each op is one lambda over Eigen array expressions;
// map_elementwise (strided.h) applies it to contiguous, broadcast and strided
// rows alike. Arithmetic is compiled for f32, f64 and i64; fill, copy, where
// and the predicates for bool too (visit_dtype_or_bool).
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
void arithmetic_typed(BinaryOp op, const Shape& shape, const Operand<const T>& a,
                      const Operand<const T>& b, const Operand<T>& out) {
  const auto run = [&](const auto& f) { map_elementwise(f, shape, out, a, b); };
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
    case BinaryOp::relu_backward:  // one pass: no mask or zeros to allocate and fill
      return run([](const auto& x, const auto& y) { return (y <= T(0)).select(T(0), x); });
    case BinaryOp::eq:  // the predicates: binary() sends them to predicate_typed
    case BinaryOp::ne:
    case BinaryOp::lt:
    case BinaryOp::le:
    case BinaryOp::gt:
    case BinaryOp::ge:
    case BinaryOp::logical_and:
    case BinaryOp::logical_or:
    case BinaryOp::logical_xor:
      return;
  }
}

/// The predicates, comparing elements of T (bool included) into a boolean out.
template <class T>
void predicate_typed(BinaryOp op, const Shape& shape, const Operand<const T>& a,
                     const Operand<const T>& b, const Operand<bool>& out) {
  const auto run = [&](const auto& f) { map_elementwise(f, shape, out, a, b); };
  const auto truth = [](const auto& x) { return x != T(0); };
  switch (op) {
    case BinaryOp::eq:
      return run([](const auto& x, const auto& y) { return x == y; });
    case BinaryOp::ne:
      return run([](const auto& x, const auto& y) { return x != y; });
    case BinaryOp::lt:
      return run([](const auto& x, const auto& y) { return x < y; });
    case BinaryOp::le:
      return run([](const auto& x, const auto& y) { return x <= y; });
    case BinaryOp::gt:
      return run([](const auto& x, const auto& y) { return x > y; });
    case BinaryOp::ge:
      return run([](const auto& x, const auto& y) { return x >= y; });
    case BinaryOp::logical_and:
      return run([&](const auto& x, const auto& y) { return truth(x) && truth(y); });
    case BinaryOp::logical_or:
      return run([&](const auto& x, const auto& y) { return truth(x) || truth(y); });
    case BinaryOp::logical_xor:
      return run([&](const auto& x, const auto& y) { return truth(x) != truth(y); });
    case BinaryOp::add:  // arithmetic: binary() sends it to arithmetic_typed
    case BinaryOp::sub:
    case BinaryOp::mul:
    case BinaryOp::div:
    case BinaryOp::pow:
    case BinaryOp::maximum:
    case BinaryOp::minimum:
    case BinaryOp::relu_backward:
      return;
  }
}

}  // namespace

void CpuBackend::fill(const Tensor& out, double value) {
  visit_dtype_or_bool(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    fill_elements(out.shape(), operand<T>(out), saturate_cast<T>(value));
  });
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  const Strides source_strides = broadcast_strides("copy", src, dst.shape());
  visit_dtype_or_bool(src.dtype(), [&](auto source_type) {
    using S = typename decltype(source_type)::type;
    const Operand<const S> source{src.data_ptr<S>(), &source_strides};
    visit_dtype_or_bool(dst.dtype(), [&](auto dest_type) {
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
  if (is_predicate(op)) {
    visit_dtype_or_bool(a.dtype(), [&](auto type) {
      using T = typename decltype(type)::type;
      predicate_typed<T>(op, out.shape(), operand<const T>(a), operand<const T>(b),
                         operand<bool>(out));
    });
    return;
  }
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    arithmetic_typed<T>(op, out.shape(), operand<const T>(a), operand<const T>(b), operand<T>(out));
  });
}

namespace {

/// out = cond ? a : b over contiguous operands of one shape. Eigen's select
/// runs element by element on a branch, which mispredicts on a mask such as
/// ReLU's backward (measured ~1 ns an element); this loop, with both values
/// loaded and the condition read as a byte, compiles to masked blends. Large
/// tensors are split over the CPU pool like every element-wise kernel.
template <class T>
void blend_contiguous(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const auto* c = reinterpret_cast<const unsigned char*>(cond.data_ptr<bool>());
  const T *x = a.data_ptr<T>(), *y = b.data_ptr<T>();
  T* o = out.data_ptr<T>();
  parallel_for(0, out.numel(), kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const T xi = x[i], yi = y[i];
      o[i] = c[i] != 0 ? xi : yi;
    }
  });
}

}  // namespace

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_dtype_or_bool(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const auto dense = [&](const Tensor& t) {
      return t.is_contiguous() && t.shape() == out.shape();
    };
    if (dense(cond) && dense(a) && dense(b) && out.is_contiguous())
      return blend_contiguous<T>(cond, a, b, out);
    map_elementwise([](const auto& c, const auto& x, const auto& y) { return c.select(x, y); },
                    out.shape(), operand<T>(out), operand<const bool>(cond), operand<const T>(a),
                    operand<const T>(b));
  });
}

}  // namespace tether::backend::cpu
