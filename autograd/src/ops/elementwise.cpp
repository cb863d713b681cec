// Element-wise ops. Binary ops broadcast and promote dtypes (binary_kernel);
// their backward undoes both: it sums each gradient back to its input's shape
// (sum_to_shape) and converts it back to its input's dtype.
#include <cmath>
#include <limits>
#include <numbers>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// The gradient `grad` of a binary op's input `i`, summed to that input's
/// shape and converted to its dtype; undefined when the input needs none.
Tensor gradient_for_input(const Node& n, std::size_t i, const Tensor& grad, const Shape& shape,
                          DType dtype) {
  if (!grad.defined() || !n.needs_grad(i)) return Tensor();
  return to(sum_to_shape(grad, shape), dtype);
}

/// Records a binary op whose gradients are `da(g)` and `db(g)` in the
/// output's shape and dtype.
template <class Backward>
Tensor record_binary(const char* name, const Tensor& a, const Tensor& b, Tensor out,
                     std::initializer_list<Tensor> saved, Backward backward) {
  return record(
      name, {a, b}, std::move(out), saved,
      [sa = a.shape(), sb = b.shape(), da = a.dtype(), db = b.dtype(), backward](
          Node& n, const Tensor& g) -> GradList {
        auto [ga, gb] = backward(n, g);
        return {gradient_for_input(n, 0, ga, sa, da), gradient_for_input(n, 1, gb, sb, db)};
      });
}

/// `value` as a 0-d tensor on x's device, of the dtype x and the scalar
/// promote to: op `name` of x with it computes as x with the scalar would.
Tensor scalar_like(const char* name, const Tensor& x, Scalar value) {
  check_defined(name, x);
  const DType dtype = ResultType().add(x).add(value).dtype();
  return full({}, value.to_double(), TensorOptions(dtype).with_device(x.device()));
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return record_binary("add", a, b, binary_kernel("add", BinaryOp::add, a, b), {},
                       [](Node&, const Tensor& g) {
                         return std::pair{g, g};
                       });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  // As PyTorch, even where the other operand would promote the mask.
  check_not_bool("sub", a);
  check_not_bool("sub", b);
  return record_binary("sub", a, b, binary_kernel("sub", BinaryOp::sub, a, b), {},
                       [](Node& n, const Tensor& g) {
                         return std::pair{g, n.needs_grad(1) ? -g : Tensor()};
                       });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return record_binary("mul", a, b, binary_kernel("mul", BinaryOp::mul, a, b), {a, b},
                       [](Node& n, const Tensor& g) {
                         return std::pair{n.needs_grad(0) ? g * n.saved(1) : Tensor(),
                                          n.needs_grad(1) ? g * n.saved(0) : Tensor()};
                       });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("div", BinaryOp::div, a, b);
  // d(a/b)/db = -a/b^2 = -(1/b) (a/b): with g/b at hand, one more product.
  return record_binary("div", a, b, out, {b, out}, [](Node& n, const Tensor& g) {
    const Tensor g_over_b = g / n.saved(0);
    return std::pair{n.needs_grad(0) ? g_over_b : Tensor(),
                     n.needs_grad(1) ? -(g_over_b * n.saved(1)) : Tensor()};
  });
}

Tensor pow(const Tensor& x, const Tensor& exponent) {
  Tensor out = binary_kernel("pow", BinaryOp::pow, x, exponent);
  // As PyTorch: x^0 is constant in x, and 0^y (y >= 0) in y, so those
  // gradients are 0 where the formulas would give 0 * inf = NaN.
  return record_binary("pow", x, exponent, out, {x, exponent, out}, [](Node& n, const Tensor& g) {
    const Tensor x = n.saved(0), y = n.saved(1);
    Tensor dx, dy;
    if (n.needs_grad(0)) {
      const Tensor slope = y * pow(x, y - 1.0);
      dx = g * where(eq(y, zeros_like(y)), zeros_like(slope), slope);
    }
    if (n.needs_grad(1)) {
      const Tensor slope = n.saved(2) * log(x);
      dy = g * where(eq(x, zeros_like(x)) * (y >= 0.0), zeros_like(slope), slope);
    }
    return std::pair{dx, dy};
  });
}

namespace {

/// maximum / minimum: an operand gets the gradient unless `loses` says the
/// other one is picked; ties share it equally. As in PyTorch, a NaN neither
/// wins nor loses, so both operands of a comparison with NaN get all of it.
Tensor pick(const char* name, BinaryOp op, Tensor (*loses)(const Tensor&, const Tensor&),
            const Tensor& a, const Tensor& b) {
  return record_binary(
      name, a, b, binary_kernel(name, op, a, b), {a, b}, [loses](Node& n, const Tensor& g) {
        const Tensor a = n.saved(0), b = n.saved(1);
        const Tensor zero = zeros_like(g), shared = where(eq(a, b), g * 0.5, g);
        return std::pair{where(loses(a, b), zero, shared), where(loses(b, a), zero, shared)};
      });
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return pick("maximum", BinaryOp::maximum, lt, a, b);
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  return pick("minimum", BinaryOp::minimum, gt, a, b);
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  check_same_device("where", a, b);
  check_same_device("where", condition, a);
  if (condition.dtype() != DType::boolean)
    fail<DTypeError>("where: expected a bool condition, got ", condition.dtype(),
                     " (make one with a comparison, e.g. x > 0, or .to(DType::boolean))");
  const DType dtype = result_type(a, b);
  const Shape shape =
      broadcast_shapes("where", broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  Tensor out = Tensor::empty(shape, dtype, a.device(), "where");
  Tensor copies[2], views[3];
  backend_of(a).where(broadcast_view(condition, shape, views[0]),
                      broadcast_view(converted_data(a, dtype, copies[0]), shape, views[1]),
                      broadcast_view(converted_data(b, dtype, copies[1]), shape, views[2]), out);
  return record_binary("where", a, b, out, {condition}, [](Node& n, const Tensor& g) {
    const Tensor c = n.saved(0), zero = zeros_like(g);
    return std::pair{where(c, g, zero), where(c, zero, g)};
  });
}

Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
// affine promotes with its scalars; the integer 1 and 0 leave an i64 tensor
// i64, while the floating 1 / b makes division true division.
Tensor operator+(const Tensor& a, Scalar b) {
  check_defined("add", a);
  return affine(a, 1, b);
}
Tensor operator-(const Tensor& a, Scalar b) {
  check_not_bool("sub", a);
  return affine(a, 1, -b);
}
Tensor operator*(const Tensor& a, Scalar b) {
  check_defined("mul", a);
  return affine(a, b, 0);
}
Tensor operator/(const Tensor& a, Scalar b) {
  check_defined("div", a);
  return affine(a, 1.0 / b.to_double(), 0);
}
Tensor operator+(Scalar a, const Tensor& b) {
  check_defined("add", b);
  return affine(b, 1, a);
}
Tensor operator-(Scalar a, const Tensor& b) {
  check_not_bool("sub", b);
  return affine(b, -1, a);
}
Tensor operator*(Scalar a, const Tensor& b) {
  check_defined("mul", b);
  return affine(b, a, 0);
}
Tensor operator/(Scalar a, const Tensor& b) {
  check_defined("div", b);
  return reciprocal(b) * a;  // reciprocal of an i64 tensor is floating
}
Tensor operator-(const Tensor& a) {
  return neg(a);
}

// ---- comparisons: masks without gradient ------------------------------------

Tensor eq(const Tensor& a, const Tensor& b) {
  return binary_kernel("eq", BinaryOp::eq, a, b);
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return binary_kernel("ne", BinaryOp::ne, a, b);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return binary_kernel("lt", BinaryOp::lt, a, b);
}
Tensor le(const Tensor& a, const Tensor& b) {
  return binary_kernel("le", BinaryOp::le, a, b);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return binary_kernel("gt", BinaryOp::gt, a, b);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return binary_kernel("ge", BinaryOp::ge, a, b);
}
Tensor operator<(const Tensor& a, const Tensor& b) {
  return lt(a, b);
}
Tensor operator<=(const Tensor& a, const Tensor& b) {
  return le(a, b);
}
Tensor operator>(const Tensor& a, const Tensor& b) {
  return gt(a, b);
}
Tensor operator>=(const Tensor& a, const Tensor& b) {
  return ge(a, b);
}
Tensor operator<(const Tensor& a, Scalar b) {
  return lt(a, scalar_like("lt", a, b));
}
Tensor operator<=(const Tensor& a, Scalar b) {
  return le(a, scalar_like("le", a, b));
}
Tensor operator>(const Tensor& a, Scalar b) {
  return gt(a, scalar_like("gt", a, b));
}
Tensor operator>=(const Tensor& a, Scalar b) {
  return ge(a, scalar_like("ge", a, b));
}
Tensor operator<(Scalar a, const Tensor& b) {
  check_defined("lt", b);
  return b > a;
}
Tensor operator<=(Scalar a, const Tensor& b) {
  check_defined("le", b);
  return b >= a;
}
Tensor operator>(Scalar a, const Tensor& b) {
  check_defined("gt", b);
  return b < a;
}
Tensor operator>=(Scalar a, const Tensor& b) {
  check_defined("ge", b);
  return b <= a;
}

// ---- unary ops --------------------------------------------------------------

Tensor affine(const Tensor& x, Scalar scale, Scalar shift) {
  check_defined("affine", x);
  // Only an i64 x can change dtype here, and it takes no gradient.
  const Tensor input = to(x, ResultType().add(x).add(scale).add(shift).dtype());
  Tensor out = Tensor::empty(input.shape(), input.dtype(), input.device());
  backend_of(input).unary(UnaryOp::affine, input, out, {scale.to_double(), shift.to_double()});
  return record("affine", {input}, out, {},
                [scale](Node&, const Tensor& g) -> GradList { return {g * scale}; });
}

Tensor neg(const Tensor& x) {
  check_not_bool("neg", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).unary(UnaryOp::neg, x, out, {});
  return record("neg", {x}, out, {}, [](Node&, const Tensor& g) -> GradList { return {-g}; });
}

Tensor reciprocal(const Tensor& x) {
  Tensor out = unary_kernel("reciprocal", UnaryOp::reciprocal, x);
  return record("reciprocal", {x}, out, {out}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor y = n.saved(0);
    return {-g * y * y};
  });
}

Tensor pow(const Tensor& x, Scalar exponent) {
  check_defined("pow", x);
  // Integer powers of integers: the binary kernel's exact power by squaring.
  if (!is_floating(result_type(x, exponent))) return pow(x, scalar_like("pow", x, exponent));
  const double power = exponent.to_double();
  Tensor out = unary_kernel("pow", UnaryOp::pow, x, {power});
  return record("pow", {x}, out, {x}, [power](Node& n, const Tensor& g) -> GradList {
    if (power == 0.0) return {zeros_like(g)};
    return {g * pow(n.saved(0), power - 1.0) * power};
  });
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_kernel("exp", UnaryOp::exp, x);
  return record("exp", {x}, out, {out},
                [](Node& n, const Tensor& g) -> GradList { return {g * n.saved(0)}; });
}

Tensor log(const Tensor& x) {
  Tensor out = unary_kernel("log", UnaryOp::log, x);
  return record("log", {x}, out, {x},
                [](Node& n, const Tensor& g) -> GradList { return {g / n.saved(0)}; });
}

Tensor log1p(const Tensor& x) {
  Tensor out = unary_kernel("log1p", UnaryOp::log1p, x);
  return record("log1p", {x}, out, {x},
                [](Node& n, const Tensor& g) -> GradList { return {g / (n.saved(0) + 1.0)}; });
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_kernel("sqrt", UnaryOp::sqrt, x);
  return record("sqrt", {x}, out, {out},
                [](Node& n, const Tensor& g) -> GradList { return {g / (n.saved(0) * 2.0)}; });
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = unary_kernel("rsqrt", UnaryOp::rsqrt, x);
  return record("rsqrt", {x}, out, {out}, [](Node& n, const Tensor& g) -> GradList {
    return {g * pow(n.saved(0), 3.0) * -0.5};
  });
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_kernel("abs", UnaryOp::abs, x);
  return record("abs", {x}, out, {x},
                [](Node& n, const Tensor& g) -> GradList { return {g * sign(n.saved(0))}; });
}

Tensor sign(const Tensor& x) {
  check_defined("sign", x);
  if (x.dtype() == DType::boolean) return clone(x);  // a mask is its own sign, as in PyTorch
  // Piecewise constant: a zero gradient (PyTorch's), not a cut in the graph.
  Tensor out = unary_kernel("sign", UnaryOp::sign, x);
  return record("sign", {x}, out, {},
                [](Node&, const Tensor& g) -> GradList { return {zeros_like(g)}; });
}

Tensor sin(const Tensor& x) {
  Tensor out = unary_kernel("sin", UnaryOp::sin, x);
  return record("sin", {x}, out, {x},
                [](Node& n, const Tensor& g) -> GradList { return {g * cos(n.saved(0))}; });
}

Tensor cos(const Tensor& x) {
  Tensor out = unary_kernel("cos", UnaryOp::cos, x);
  return record("cos", {x}, out, {x},
                [](Node& n, const Tensor& g) -> GradList { return {-g * sin(n.saved(0))}; });
}

Tensor tanh(const Tensor& x) {
  Tensor out = unary_kernel("tanh", UnaryOp::tanh, x);
  return record("tanh", {x}, out, {out}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor y = n.saved(0);
    return {g * (1.0 - y * y)};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_kernel("sigmoid", UnaryOp::sigmoid, x);
  return record("sigmoid", {x}, out, {out}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor y = n.saved(0);
    return {g * y * (1.0 - y)};
  });
}

Tensor erf(const Tensor& x) {
  Tensor out = unary_kernel("erf", UnaryOp::erf, x);
  return record("erf", {x}, out, {x}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor x = n.saved(0);
    return {g * exp(-(x * x)) * (2.0 / std::sqrt(std::numbers::pi))};
  });
}

Tensor erfc(const Tensor& x) {
  Tensor out = unary_kernel("erfc", UnaryOp::erfc, x);
  return record("erfc", {x}, out, {x}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor x = n.saved(0);
    return {g * exp(-(x * x)) * (-2.0 / std::sqrt(std::numbers::pi))};
  });
}

Tensor lgamma(const Tensor& x) {
  Tensor out = unary_kernel("lgamma", UnaryOp::lgamma, x);
  return record("lgamma", {x}, out, {x},
                [](Node& n, const Tensor& g) -> GradList { return {g * digamma(n.saved(0))}; });
}

Tensor digamma(const Tensor& x) {
  return polygamma(0, x);
}

Tensor polygamma(std::int64_t n, const Tensor& x) {
  // Named by what the caller called: digamma is polygamma of order 0.
  const char* name = n == 0 ? "digamma" : "polygamma";
  if (n < 0) fail<ValueError>(name, ": the order n must be non-negative, got ", n);
  if (n > std::numeric_limits<int>::max())
    fail<ValueError>(name, ": the order n must fit in an int, got ", n);
  Tensor out = unary_kernel(name, UnaryOp::polygamma, x, {.alpha = static_cast<double>(n)});
  // Each order's derivative is the next order, so every order is differentiable again.
  return record(name, {x}, out, {x}, [n](Node& node, const Tensor& g) -> GradList {
    return {g * polygamma(n + 1, node.saved(0))};
  });
}

Tensor expm1(const Tensor& x) {
  Tensor out = unary_kernel("expm1", UnaryOp::expm1, x);
  return record("expm1", {x}, out, {out},
                [](Node& n, const Tensor& g) -> GradList { return {g * (n.saved(0) + 1.0)}; });
}

Tensor atan(const Tensor& x) {
  Tensor out = unary_kernel("atan", UnaryOp::atan, x);
  return record("atan", {x}, out, {x}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor x = n.saved(0);
    return {g / (x * x + 1.0)};
  });
}

Tensor erfinv(const Tensor& x) {
  Tensor out = unary_kernel("erfinv", UnaryOp::erfinv, x);
  // The inverse function's slope: 1 / erf'(erfinv(x)) = sqrt(pi) / 2 exp(erfinv(x)^2).
  return record("erfinv", {x}, out, {out}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor y = n.saved(0);
    return {g * exp(y * y) * (std::sqrt(std::numbers::pi) / 2.0)};
  });
}

Tensor xlogy(const Tensor& x, const Tensor& y) {
  check_defined("xlogy", x);
  check_defined("xlogy", y);
  check_same_device("xlogy", x, y);
  broadcast_shapes("xlogy", x.shape(), y.shape());  // the error names xlogy, not its parts
  const DType dtype = true_division_type(result_type(x, y));
  Tensor out;
  {
    // Composed of existing kernels: xlogy is not hot enough for one of its own.
    NoGradGuard no_grad;
    const Tensor xf = to(x, dtype), yf = to(y, dtype);
    const Tensor zero = scalar_tensor(0.0, TensorOptions(dtype).with_device(x.device()));
    out = where(ne(yf, yf), yf, where(eq(xf, zero), zero, xf * log(yf)));
  }
  // torch 1.13's formulas: d/dx = log(y) (as xlogy(g, y), so a zero g stays
  // 0), except 0 where x == 0 and y <= 0, where the value is constant 0;
  // d/dy = x / y, which is NaN at x == y == 0.
  return record_binary("xlogy", x, y, out, {x, y}, [](Node& n, const Tensor& g) {
    const Tensor x = n.saved(0), y = n.saved(1);
    Tensor gx, gy;
    if (n.needs_grad(0)) {
      const Tensor flat = eq(x, zeros_like(x)) * (y <= 0.0);
      gx = where(flat, zeros_like(g), xlogy(g, y));
    }
    if (n.needs_grad(1)) gy = g * x / y;
    return std::pair{gx, gy};
  });
}

namespace {

/// phi(x) / Phi(x), log_ndtr's derivative, by its own kernel: exp(log phi -
/// log Phi) would lose every digit to cancellation far in the left tail. Its
/// derivative is -r (x + r) for r = phi / Phi, so every order is differentiable.
Tensor log_ndtr_slope(const Tensor& x) {
  Tensor out = unary_kernel("log_ndtr", UnaryOp::log_ndtr_slope, x);
  return record("log_ndtr_slope", {x}, out, {x, out}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor r = n.saved(1);
    return {-(g * r * (n.saved(0) + r))};
  });
}

}  // namespace

Tensor log_ndtr(const Tensor& x) {
  Tensor out = unary_kernel("log_ndtr", UnaryOp::log_ndtr, x);
  return record("log_ndtr", {x}, out, {x}, [](Node& n, const Tensor& g) -> GradList {
    return {g * log_ndtr_slope(n.saved(0))};
  });
}

Tensor softplus(const Tensor& x) {
  Tensor out = unary_kernel("softplus", UnaryOp::softplus, x);
  return record("softplus", {x}, out, {x},
                [](Node& n, const Tensor& g) -> GradList { return {g * sigmoid(n.saved(0))}; });
}

namespace {

/// relu's gradient g at input x: g, zero where x <= 0 (so NaN passes the
/// gradient, as PyTorch's threshold_backward), in one kernel. Linear in g, so
/// its own backward is the same op; x, a mask, gets no gradient.
Tensor relu_backward(const Tensor& g, const Tensor& x) {
  Tensor out = binary_kernel("relu", BinaryOp::relu_backward, g, x);
  return record("relu_backward", {g}, out, {x}, [](Node& n, const Tensor& gg) -> GradList {
    return {relu_backward(gg, n.saved(0))};
  });
}

}  // namespace

Tensor relu(const Tensor& x) {
  Tensor out = unary_kernel("relu", UnaryOp::relu, x);
  return record("relu", {x}, out, {x}, [](Node& n, const Tensor& g) -> GradList {
    return {relu_backward(g, n.saved(0))};
  });
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  Tensor out = unary_kernel("leaky_relu", UnaryOp::leaky_relu, x, {negative_slope});
  return record("leaky_relu", {x}, out, {x},
                [negative_slope](Node& n, const Tensor& g) -> GradList {
                  return {where(n.saved(0) > 0.0, g, g * negative_slope)};
                });
}

Tensor gelu(const Tensor& x) {
  check_floating("gelu", x);  // as PyTorch, which has no integer GELU
  return x * (erf(x * (1.0 / std::numbers::sqrt2)) + 1.0) * 0.5;
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  check_defined("clamp", x);
  const double lo = min ? min->to_double() : -INFINITY, hi = max ? max->to_double() : INFINITY;
  if (lo > hi) fail<ValueError>("clamp: min ", lo, " is greater than max ", hi);
  // Only an i64 x can change dtype here, and it takes no gradient.
  const Tensor input = to(x, ResultType().add(x).add(min).add(max).dtype());
  Tensor out = unary_kernel("clamp", UnaryOp::clamp, input, {lo, hi});
  return record("clamp", {input}, out, {input}, [lo, hi](Node& n, const Tensor& g) -> GradList {
    const Tensor x = n.saved(0);
    return {g * (x >= lo) * (x <= hi)};
  });
}

}  // namespace tether
