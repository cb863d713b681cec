// Unary kernels: one Eigen array expression per op, vectorised on contiguous
// rows (see strided.h). The floating-only ops (floating_only, backend.h) are
// not instantiated for i64.
#include <unsupported/Eigen/SpecialFunctions>  // erf, lgamma

#include <cmath>
#include <type_traits>

#include "../common/special_functions.h"
#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {
namespace {

/// f (a function of double, special_functions.h) as a functor of T: f32 computes in double.
template <class T>
auto in_double(double (*f)(double)) {
  return [f](T v) { return static_cast<T>(f(v)); };
}

template <class T>
void unary_typed(UnaryOp op, const Shape& shape, const Operand<const T>& in, const Operand<T>& out,
                 UnaryParams params) {
  constexpr bool integral = std::is_integral_v<T>;
  const auto run = [&](const auto& f) { map_elementwise(f, shape, out, in); };
  // Integers wrap around on overflow (integer_arithmetic.h).
  const auto by_element = [&](const auto& f) {
    run([&](const auto& x) { return x.unaryExpr(f); });
  };
  // The floating-only ops: unary() refused integers for them, so they are
  // compiled for floating types alone.
  const auto run_floating = [&](const auto& f) {
    if constexpr (!integral) run(f);
  };
  const T alpha = saturate_cast<T>(params.alpha), beta = saturate_cast<T>(params.beta);
  switch (op) {
    case UnaryOp::neg:
      if constexpr (integral)
        return by_element(WrappingNeg());
      else
        return run([](const auto& x) { return -x; });
    case UnaryOp::abs:
      if constexpr (integral)
        return by_element(WrappingAbs());
      else
        return run([](const auto& x) { return x.abs(); });
    case UnaryOp::sign:  // 0 at NaN, as PyTorch (Eigen's sign keeps the NaN)
      return run([](const auto& x) {
        return (x > T(0)).template cast<T>() - (x < T(0)).template cast<T>();
      });
    case UnaryOp::relu:
      return run([](const auto& x) { return x.max(T(0)); });
    case UnaryOp::affine:
      if constexpr (integral)
        return by_element(WrappingAffine{alpha, beta});
      else
        return run([=](const auto& x) { return x * alpha + beta; });
    case UnaryOp::clamp:
      return run([=](const auto& x) {
        return x.binaryExpr(Column<T>::Constant(x.size(), alpha), NanPropagatingMax<T>())
            .binaryExpr(Column<T>::Constant(x.size(), beta), NanPropagatingMin<T>());
      });
    case UnaryOp::exp:
      return run_floating([](const auto& x) { return x.exp(); });
    case UnaryOp::log:
      return run_floating([](const auto& x) { return x.log(); });
    case UnaryOp::log1p:
      return run_floating([](const auto& x) { return x.log1p(); });
    case UnaryOp::sqrt:
      return run_floating([](const auto& x) { return x.sqrt(); });
    case UnaryOp::rsqrt:
      return run_floating([](const auto& x) { return x.rsqrt(); });
    case UnaryOp::sin:
      return run_floating([](const auto& x) { return x.sin(); });
    case UnaryOp::cos:
      return run_floating([](const auto& x) { return x.cos(); });
    case UnaryOp::tanh:
      return run_floating([](const auto& x) { return x.tanh(); });
    case UnaryOp::sigmoid:
      return run_floating([](const auto& x) { return x.logistic(); });
    case UnaryOp::erf:
      return run_floating([](const auto& x) { return x.erf(); });
    case UnaryOp::erfc:  // std::erfc, accurate relative to its tiny tail values
      return run_floating(
          [](const auto& x) { return x.unaryExpr([](T v) { return std::erfc(v); }); });
    case UnaryOp::lgamma:
      return run_floating([](const auto& x) { return x.lgamma(); });
    case UnaryOp::digamma:
      return run_floating(
          [](const auto& x) { return x.unaryExpr(in_double<T>(special::digamma)); });
    case UnaryOp::polygamma: {
      const int n = static_cast<int>(params.alpha);
      return run_floating([n](const auto& x) {
        return x.unaryExpr([n](T v) { return static_cast<T>(special::polygamma(n, v)); });
      });
    }
    case UnaryOp::log_ndtr:
      return run_floating(
          [](const auto& x) { return x.unaryExpr(in_double<T>(special::log_ndtr)); });
    case UnaryOp::log_ndtr_slope:
      return run_floating(
          [](const auto& x) { return x.unaryExpr(in_double<T>(special::log_ndtr_slope)); });
    case UnaryOp::softplus:  // max(x, 0) + log1p(exp(-|x|)) never overflows
      return run_floating([](const auto& x) { return x.max(T(0)) + (-x.abs()).exp().log1p(); });
    case UnaryOp::reciprocal:
      return run_floating([](const auto& x) { return x.inverse(); });
    case UnaryOp::pow:
      // Squares (losses, norms) take the cheap exact path. Square roots go
      // through sqrt, as in PyTorch: (-inf)^0.5 is NaN there, +inf by std::pow.
      if (alpha == T(2)) return run_floating([](const auto& x) { return x.square(); });
      if (alpha == T(0.5)) return run_floating([](const auto& x) { return x.sqrt(); });
      if (alpha == T(-0.5)) return run_floating([](const auto& x) { return x.rsqrt(); });
      // std::pow rather than Eigen's pow, which can be an ulp off exact results.
      return run_floating(
          [=](const auto& x) { return x.unaryExpr([=](T v) { return std::pow(v, alpha); }); });
    case UnaryOp::leaky_relu:
      return run_floating([=](const auto& x) { return (x > T(0)).select(x, x * alpha); });
    case UnaryOp::expm1:
      return run_floating([](const auto& x) { return x.expm1(); });
    case UnaryOp::atan:
      return run_floating([](const auto& x) { return x.atan(); });
    case UnaryOp::erfinv:
      return run_floating([](const auto& x) { return x.unaryExpr(in_double<T>(special::erfinv)); });
  }
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& in, const Tensor& out, UnaryParams params) {
  check_unary_dtype(op, out.dtype());
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    unary_typed<T>(op, out.shape(), operand<const T>(in), operand<T>(out), params);
  });
}

}  // namespace tether::backend::cpu
