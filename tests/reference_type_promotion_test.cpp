// Type promotion against PyTorch: every element-wise op that takes two
// operands, over every mix of dtypes (bool, i64, f32, f64) and operand kinds (tensors
// with a dimension, 0-d tensors, int and double scalars) in both orders, for
// the result's dtype and values; the unary ops on each dtype; and the dtype
// lattice itself. Expectations come from tests/type_promotion_reference.h,
// which scripts/reference/type_promotion.py generates with PyTorch 1.13; the
// rules are stated in docs/TYPE_PROMOTION.md.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <variant>

#include "tether/tether.h"
#include "type_promotion_reference.h"

namespace {

using namespace tether;
using namespace tether::type_promotion_reference;
using Operand = std::variant<Tensor, Scalar>;

DType dtype_named(std::string_view dtype) {
  for (DType d : {DType::boolean, DType::f32, DType::f64, DType::i64})
    if (name(d) == dtype) return d;
  FAIL("no dtype named " << dtype);
  return DType::f32;
}

/// An operand as the reference names it: "f32[5]" (a tensor holding `values`),
/// "i64[]" (a 0-d tensor holding 2, true when bool, 0.5 when floating), "int"
/// (2) or "double" (0.5).
Operand make_operand(const std::string& operand, const std::vector<double>& values) {
  if (operand == "int") return Scalar(2);
  if (operand == "double") return Scalar(0.5);
  const DType dtype = dtype_named(operand.substr(0, operand.find('[')));
  if (operand.ends_with("[]"))
    return scalar_tensor(dtype == DType::i64 ? 2.0 : dtype == DType::boolean ? 1.0 : 0.5, dtype);
  return tensor(values, {static_cast<std::int64_t>(values.size())}, dtype);
}

/// An op in each form tether declares it: tensor with tensor, tensor with
/// scalar, scalar with tensor (a form tether lacks stays empty).
struct BinaryOp {
  std::function<Tensor(const Tensor&, const Tensor&)> tensors = {};
  std::function<Tensor(const Tensor&, Scalar)> tensor_scalar = {};
  std::function<Tensor(Scalar, const Tensor&)> scalar_tensor = {};
};

template <class F>
BinaryOp all_forms(F f) {
  return {f, f, f};
}

/// self.op_(other) on a copy of `self`, returned.
template <class F>
auto in_place(F op) {
  return [op](const Tensor& self, const auto& other) {
    Tensor out = self.clone();
    op(out, other);
    return out;
  };
}

const std::map<std::string, BinaryOp>& binary_ops() {
  static const Tensor condition = tensor({1, 0, 1, 0, 1}, {5}, DType::boolean);
  static const std::map<std::string, BinaryOp> ops = {
      {"add", all_forms([](const auto& a, const auto& b) { return a + b; })},
      {"sub", all_forms([](const auto& a, const auto& b) { return a - b; })},
      {"mul", all_forms([](const auto& a, const auto& b) { return a * b; })},
      {"div", all_forms([](const auto& a, const auto& b) { return a / b; })},
      {"lt", all_forms([](const auto& a, const auto& b) { return a < b; })},
      {"le", all_forms([](const auto& a, const auto& b) { return a <= b; })},
      {"gt", all_forms([](const auto& a, const auto& b) { return a > b; })},
      {"ge", all_forms([](const auto& a, const auto& b) { return a >= b; })},
      {"eq", {eq}},
      {"ne", {ne}},
      {"pow",
       {.tensors = [](const Tensor& a, const Tensor& b) { return pow(a, b); },
        .tensor_scalar = [](const Tensor& a, Scalar b) { return pow(a, b); }}},
      {"maximum", {maximum}},
      {"minimum", {minimum}},
      {"where", {[](const Tensor& a, const Tensor& b) { return where(condition, a, b); }}},
      {"cat", {[](const Tensor& a, const Tensor& b) {
         return cat({a, b});
       }}},
      {"stack", {[](const Tensor& a, const Tensor& b) {
         return stack({a, b});
       }}},
      {"clamp_min",
       {.tensor_scalar = [](const Tensor& x, Scalar min) { return clamp(x, min, std::nullopt); }}},
      {"clamp_max",
       {.tensor_scalar = [](const Tensor& x, Scalar max) { return clamp(x, std::nullopt, max); }}},
      {"add_",
       {.tensors = in_place([](Tensor& self, const Tensor& b) { self.add_(b); }),
        .tensor_scalar = in_place([](Tensor& self, Scalar b) { self.add_(b); })}},
      {"sub_", {.tensors = in_place([](Tensor& self, const Tensor& b) { self.sub_(b); })}},
      {"mul_",
       {.tensors = in_place([](Tensor& self, const Tensor& b) { self.mul_(b); }),
        .tensor_scalar = in_place([](Tensor& self, Scalar b) { self.mul_(b); })}},
      {"div_", {.tensor_scalar = in_place([](Tensor& self, Scalar b) { self.div_(b); })}},
  };
  return ops;
}

Tensor apply(const BinaryOp& op, const Operand& lhs, const Operand& rhs) {
  if (const auto* a = std::get_if<Tensor>(&lhs)) {
    if (const auto* b = std::get_if<Tensor>(&rhs)) return op.tensors(*a, *b);
    return op.tensor_scalar(*a, std::get<Scalar>(rhs));
  }
  return op.scalar_tensor(std::get<Scalar>(lhs), std::get<Tensor>(rhs));
}

/// The relative error allowed in floating values of `dtype`: a few ulps
/// (tether's x / 3 multiplies by 1/3).
double tolerance_for(DType dtype) {
  return dtype == DType::f32 ? 1e-6 : 1e-13;
}

/// Values equal `expected`: exactly for i64 and bool, to `tolerance`
/// (relative) for floating dtypes, NaN where it has NaN.
void check_values(const Tensor& out, const std::vector<double>& expected, double tolerance) {
  const std::vector<double> actual = out.to_vector<double>();
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO("element " << i << ": " << actual[i] << ", expected " << expected[i]);
    if (std::isnan(expected[i]))
      CHECK(std::isnan(actual[i]));
    else if (std::isinf(expected[i]) || !out.is_floating_point())
      CHECK(actual[i] == expected[i]);
    else
      CHECK(std::abs(actual[i] - expected[i]) <= tolerance * std::max(1.0, std::abs(expected[i])));
  }
}

}  // namespace

TEST_CASE("binary ops promote as PyTorch over every mix of dtypes and operand kinds",
          "[promotion]") {
  for (const auto& c : kBinaryCases) {
    INFO(c.op << "(" << c.lhs << ", " << c.rhs << ") should give " << c.dtype);
    const Operand lhs = make_operand(c.lhs, kLhs), rhs = make_operand(c.rhs, kRhs);
    const BinaryOp& op = binary_ops().at(c.op);
    if (std::string_view(c.dtype) == "error") {
      CHECK_THROWS_AS(apply(op, lhs, rhs), tether::Error);
      continue;
    }
    const Tensor out = apply(op, lhs, rhs);
    CHECK(name(out.dtype()) == c.dtype);
    check_values(out, c.values, tolerance_for(out.dtype()));
  }
}

TEST_CASE("result_type gives the dtype PyTorch's add returns for every operand mix",
          "[promotion]") {
  for (const auto& c : kBinaryCases) {
    if (std::string_view(c.op) != "add" || std::string_view(c.lhs).find('[') == std::string::npos)
      continue;
    INFO("result_type(" << c.lhs << ", " << c.rhs << ")");
    const Tensor lhs = std::get<Tensor>(make_operand(c.lhs, kLhs));
    const Operand rhs = make_operand(c.rhs, kRhs);
    const DType dtype = std::holds_alternative<Tensor>(rhs)
                            ? result_type(lhs, std::get<Tensor>(rhs))
                            : result_type(lhs, std::get<Scalar>(rhs));
    CHECK(name(dtype) == c.dtype);
  }
}

TEST_CASE("unary ops keep, promote or refuse an i64 or bool tensor as PyTorch does",
          "[promotion]") {
  const std::map<std::string, std::function<Tensor(const Tensor&)>> ops = {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"sign", [](const Tensor& x) { return sign(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(x); }},
      {"log1p", [](const Tensor& x) { return log1p(x); }},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }},
      {"sin", [](const Tensor& x) { return sin(x); }},
      {"cos", [](const Tensor& x) { return cos(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"erf", [](const Tensor& x) { return erf(x); }},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
  };
  for (const auto& c : kUnaryCases) {
    INFO(c.op << " of " << c.dtype << " should give " << c.result);
    const Tensor x = tensor(kUnaryValues, {3}, dtype_named(c.dtype));
    const auto& op = ops.at(c.op);
    if (std::string_view(c.result) == "error") {
      CHECK_THROWS_AS(op(x), DTypeError);
      continue;
    }
    const Tensor out = op(x);
    CHECK(name(out.dtype()) == c.result);
    check_values(out, c.values, tolerance_for(out.dtype()));
  }
}

TEST_CASE("promote_types and can_cast agree with PyTorch on every dtype pair", "[promotion]") {
  for (const auto& c : kDTypePairs) {
    INFO(c.a << ", " << c.b);
    const DType a = dtype_named(c.a), b = dtype_named(c.b);
    CHECK(name(promote_types(a, b)) == c.promoted);
    CHECK(can_cast(a, b) == c.castable);
    CHECK(result_type(zeros({2}, a), zeros({2}, b)) == promote_types(a, b));
  }
}

TEST_CASE("an i64 tensor with a fractional scalar computes in f32, not in integers",
          "[promotion]") {
  const Tensor x = arange(5);
  CHECK((x * 0.5).to_vector<double>() == std::vector<double>{0, 0.5, 1, 1.5, 2});
  CHECK((x / 2).to_vector<double>() == std::vector<double>{0, 0.5, 1, 1.5, 2});
  CHECK((x + 0.5).to_vector<double>() == std::vector<double>{0.5, 1.5, 2.5, 3.5, 4.5});
  CHECK((x * 0.5).dtype() == DType::f32);
  CHECK((x * 2).dtype() == DType::i64);
  CHECK((x * 2.0).dtype() == DType::f32);
}

TEST_CASE(
    "arange infers default_float_dtype when start, end or step is floating, i64 otherwise, "
    "as torch.arange",
    "[promotion]") {
  const Tensor quarters = arange(0, 1, 0.25);
  CHECK(quarters.dtype() == DType::f32);
  CHECK(quarters.to_vector<double>() == std::vector<double>{0, 0.25, 0.5, 0.75});
  CHECK(arange(0.5, 3, 1).to_vector<double>() == std::vector<double>{0.5, 1.5, 2.5});
  CHECK(arange(3.0).dtype() == DType::f32);
  CHECK(arange(0, 6, 2).dtype() == DType::i64);
  CHECK(arange(0, 6, 2).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 2, 4});
  CHECK(arange(0, 1, 0.25, DType::f64).dtype() == DType::f64);
  CHECK(arange(4.0, DType::i64).dtype() == DType::i64);
  // Options that name only a device or requires_grad leave the dtype to inference.
  CHECK(arange(5, Device::cpu()).dtype() == DType::i64);
  CHECK(arange(5.0, TensorOptions().with_requires_grad()).dtype() == DType::f32);
  CHECK(zeros({2}, Device::cpu()).dtype() == default_float_dtype);
}

TEST_CASE(
    "an in-place op whose result an i64 tensor cannot hold throws a DTypeError naming "
    "both dtypes",
    "[promotion]") {
  Tensor x = arange(3);
  const auto refuses = [](const std::function<void()>& write, const std::string& op) {
    using Catch::Matchers::Contains;
    CHECK_THROWS_AS(write(), DTypeError);
    CHECK_THROWS_WITH(write(), Contains(op + ": result type f32 can't be cast to the desired "
                                             "output type i64"));
  };
  refuses([&] { x.add_(0.5); }, "add_");
  refuses([&] { x.div_(2); }, "div_");
  refuses([&] { x.mul_(ones({3})); }, "mul_");
  refuses([&] { x.add_(arange(3), 0.5); }, "add_");
  CHECK(x.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2});
  CHECK(x.add_(arange(3), 2).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 3, 6});
}

TEST_CASE("an f32 tensor updated in place from an f64 one rounds the f64 result once",
          "[promotion]") {
  // 1 + (2^-24 + 2^-50) rounds up to the next f32; rounding the operand to f32
  // first would leave 1 + 2^-24, a tie that rounds down to 1 (PyTorch gives the former).
  const Tensor just_over_half_ulp =
      full({2}, std::ldexp(1.0, -24) + std::ldexp(1.0, -50), DType::f64);
  const float next = std::nextafter(1.0f, 2.0f);
  Tensor x = ones({2});
  x.add_(just_over_half_ulp);
  CHECK(x.dtype() == DType::f32);
  CHECK(x.to_vector<float>() == std::vector<float>{next, next});
  Tensor transposed = ones({2, 2}).t();  // the path for non-contiguous destinations
  transposed.add_(just_over_half_ulp);
  CHECK(transposed.to_vector<float>() == std::vector<float>(4, next));
}

TEST_CASE("a promoted input's gradient comes back in the input's own dtype", "[promotion]") {
  const std::map<std::string, std::function<Tensor(const Tensor&, const Tensor&)>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"where",
       [](const Tensor& a, const Tensor& b) {
         return where(tensor({1, 0, 1}, {3}, DType::boolean), a, b);
       }},
      {"cat",
       [](const Tensor& a, const Tensor& b) {
         return cat({a, b}) * cat({b, a});
       }},
  };
  const std::vector<double> a_values = {0.5, 1.5, 2.0}, b_values = {1.25, 0.75, 2.5};
  for (const auto& [op, f] : ops) {
    for (DType a_dtype : {DType::f32, DType::f64}) {
      for (DType b_dtype : {DType::f32, DType::f64, DType::i64}) {
        INFO(op << "(" << a_dtype << ", " << b_dtype << ")");
        const Tensor a = tensor(a_values, {3}, a_dtype).requires_grad_();
        Tensor b = tensor(b_values, {3}, b_dtype);
        if (is_floating(b_dtype)) b.requires_grad_();
        sum(f(a, b)).backward();
        // The same computation in f64 throughout is the reference.
        const Tensor a64 = tensor(a_values, {3}, DType::f64).requires_grad_();
        const Tensor b64 = b.detach().to(DType::f64).requires_grad_();
        sum(f(a64, b64)).backward();
        // A saved f32 input enters the backward in f32 (pow's log(a)), as in
        // PyTorch, so any f32 operand makes the gradients f32-accurate.
        const double tolerance =
            tolerance_for(a_dtype == DType::f32 || b_dtype == DType::f32 ? DType::f32 : DType::f64);
        REQUIRE(a.grad().dtype() == a_dtype);
        check_values(a.grad(), a64.grad().to_vector<double>(), tolerance);
        if (is_floating(b_dtype)) {
          REQUIRE(b.grad().dtype() == b_dtype);
          check_values(b.grad(), b64.grad().to_vector<double>(), tolerance);
        }
      }
    }
  }
}

TEST_CASE("mixed-dtype ops pass gradcheck and gradgradcheck", "[promotion]") {
  const Tensor single = tensor({0.75, 1.5, 2.0}, {3}, DType::f32);
  const Tensor zero_dim = scalar_tensor(1.25, DType::f32);
  const Tensor integers = tensor({1, 2, 3}, {3}, DType::i64);
  const std::vector<std::pair<std::string, GradcheckFunction>> cases = {
      {"f64 * f32", [&](const std::vector<Tensor>& x) { return x[0] * single; }},
      {"f32 / f64", [&](const std::vector<Tensor>& x) { return single / x[0]; }},
      {"f64 - 0-d f32", [&](const std::vector<Tensor>& x) { return x[0] - zero_dim; }},
      {"i64 ^ f64", [&](const std::vector<Tensor>& x) { return pow(integers, x[0]); }},
      {"f64 ^ i64", [&](const std::vector<Tensor>& x) { return pow(x[0], integers); }},
      {"maximum(f64, i64)",
       [&](const std::vector<Tensor>& x) { return maximum(x[0], integers * 0.5); }},
      {"where(f32, f64)",
       [&](const std::vector<Tensor>& x) { return where(integers > 1, single, x[0]); }},
  };
  for (const auto& [variant, f] : cases) {
    INFO(variant);
    const Tensor x = tensor({0.6, 1.3, 2.2}, {3}, DType::f64).requires_grad_();
    CHECK(gradcheck(f, {x}));
    CHECK(gradgradcheck(f, {x}));
  }
}
