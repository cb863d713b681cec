// The op table's driver (see op_table.h): every entry's values in f64 and f32,
// then gradcheck and gradgradcheck on random inputs. Run one entry with
//   tether_tests "[ops]" -c "softmax / dim -1"
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "op_table.h"

namespace tether::op_table {

Device& table_device() {
  static Device device = Device::cpu();
  return device;
}

Tensor t(const std::vector<double>& values, const Shape& shape) {
  return tensor(values, shape, TensorOptions(DType::f64).with_device(table_device()));
}

Tensor ints(const std::vector<double>& values, const Shape& shape) {
  return tensor(values, shape, TensorOptions(DType::i64).with_device(table_device()));
}

Tensor rnd(const Shape& shape, const std::vector<double>& kinks) {
  Tensor x = randn(shape, DType::f64);
  double* values = x.data_ptr<double>();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    for (double kink : kinks) {
      if (std::abs(values[i] - kink) < 0.1) values[i] = kink + (values[i] < kink ? -0.1 : 0.1);
    }
  }
  return x.requires_grad_();
}

Tensor positive(const Shape& shape) {
  Tensor x = rand(shape, DType::f64);
  double* values = x.data_ptr<double>();
  for (std::int64_t i = 0; i < x.numel(); ++i) values[i] = 0.5 + 1.5 * values[i];
  return x.requires_grad_();
}

std::function<Inputs()> random_inputs(std::vector<Shape> shapes) {
  return [shapes = std::move(shapes)] {
    Inputs inputs;
    for (const auto& shape : shapes) inputs.push_back(rnd(shape));
    return inputs;
  };
}

Inputs to_f32(const Inputs& inputs) {
  Inputs out;
  for (const auto& x : inputs) out.push_back(x.dtype() == DType::f64 ? x.to(DType::f32) : x);
  return out;
}

std::vector<double> map(const std::vector<double>& values,
                        const std::function<double(double)>& reference) {
  std::vector<double> out;
  for (double v : values) out.push_back(reference(v));
  return out;
}

namespace {

/// Copies of the inputs that require grad, where their dtype allows it.
Inputs requiring_grad(const Inputs& inputs) {
  Inputs out;
  for (const auto& x : inputs)
    out.push_back(x.is_floating_point() ? x.detach().clone().requires_grad_() : x);
  return out;
}

/// Same shape, and every value within `tolerance` (relative, or absolute near zero).
void check_values(const Tensor& actual, const Tensor& expected, double tolerance) {
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<double> got = actual.to_vector<double>(), want = expected.to_vector<double>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << " of " << actual);
    CHECK(got[i] == Approx(want[i]).epsilon(tolerance).margin(tolerance));
  }
}

void check_case(const OpCase& c) {
  {
    INFO("f64 values");
    const Tensor out = c.f(c.value_inputs);
    CHECK(out.dtype() == c.expected.dtype());
    check_values(out, c.expected, 1e-12);
  }
  {
    INFO("f32 values");
    check_values(c.f(to_f32(c.value_inputs)), c.expected, 1e-5);
  }
  if (!c.grad_inputs) {
    INFO("an op without gradient returns a result that does not require grad");
    CHECK_FALSE(c.f(requiring_grad(c.value_inputs)).requires_grad());
    return;
  }
  // Seeded per entry, so that one entry run alone (-c) sees the same inputs.
  manual_seed(20240607);
  const Inputs inputs = c.grad_inputs();
  REQUIRE_NOTHROW(gradcheck(c.f, inputs, c.tolerance));
  if (c.second_order) REQUIRE_NOTHROW(gradgradcheck(c.f, inputs, c.tolerance));
}

void check_family(const std::vector<OpCase>& cases) {
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.op << " / " << c.variant) {
      check_case(c);
    }
  }
}

/// Every differentiable op in ops.h; operators are variants of add, sub, mul, div and neg.
const std::set<std::string> kDifferentiableOps = {
    "add",
    "sub",
    "mul",
    "div",
    "affine",
    "neg",
    "reciprocal",
    "pow",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "abs",
    "sign",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "erf",
    "relu",
    "leaky_relu",
    "gelu",
    "softplus",
    "clamp",
    "where",
    "maximum",
    "minimum",
    "sum",
    "mean",
    "var",
    "amax",
    "amin",
    "logsumexp",
    "norm",
    "softmax",
    "log_softmax",
    "normalize",
    "sum_to_shape",
    "matmul",
    "mm",
    "mv",
    "dot",
    "outer",
    "linear",
    "matrix_exp",
    "reshape",
    "view",
    "flatten",
    "transpose",
    "permute",
    "squeeze",
    "unsqueeze",
    "expand",
    "narrow",
    "slice",
    "select",
    "contiguous",
    "clone",
    "cat",
    "stack",
    "index_select",
    "gather",
    "to",
    "cholesky",
    "solve_triangular",
    "cholesky_solve",
    "logdet",
    "tril",
    "triu",
    "diagonal",
};

std::vector<OpCase> differentiable_cases() {
  std::vector<OpCase> cases;
  for (auto family : {elementwise_cases, reduction_cases, linalg_cases, shape_cases})
    for (auto& c : family()) cases.push_back(std::move(c));
  return cases;
}

}  // namespace

TEST_CASE("element-wise ops match their values and gradients", "[ops]") {
  check_family(elementwise_cases());
}

TEST_CASE("reductions match their values and gradients", "[ops]") {
  check_family(reduction_cases());
}

TEST_CASE("matrix products match their values and gradients", "[ops]") {
  check_family(linalg_cases());
}

TEST_CASE("shape and indexing ops match their values and gradients", "[ops]") {
  check_family(shape_cases());
}

TEST_CASE("ops without a gradient match their values", "[ops]") {
  check_family(value_only_cases());
}

// Ties are where the table's gradient checks cannot look (no derivative there),
// so the documented rule is checked directly.
TEST_CASE("amax, amin, maximum and minimum share the gradient equally among ties", "[ops]") {
  const auto gradients = [](const Tensor& out, const Inputs& inputs) {
    std::vector<std::vector<double>> values;
    for (const auto& g : autograd::grad({sum(out)}, inputs))
      values.push_back(g.to_vector<double>());
    return values;
  };
  using Values = std::vector<std::vector<double>>;
  const Tensor x = t({1.0, 3.0, 3.0, -1.0, -1.0}, {5}).requires_grad_();
  CHECK(gradients(amax(x), {x}) == Values{{0.0, 0.5, 0.5, 0.0, 0.0}});
  CHECK(gradients(amin(x), {x}) == Values{{0.0, 0.0, 0.0, 0.5, 0.5}});
  const Tensor a = t({1.0, 2.0, 3.0}, {3}).requires_grad_();
  const Tensor b = t({1.0, 0.0, 4.0}, {3}).requires_grad_();
  CHECK(gradients(maximum(a, b), {a, b}) == Values{{0.5, 1.0, 0.0}, {0.5, 0.0, 1.0}});
  CHECK(gradients(minimum(a, b), {a, b}) == Values{{0.5, 0.0, 1.0}, {0.5, 1.0, 0.0}});
}

TEST_CASE("every op in ops.h has a table entry", "[ops]") {
  std::set<std::string> tabled;
  for (const auto& c : differentiable_cases()) {
    INFO(c.op << " / " << c.variant);
    CHECK(kDifferentiableOps.count(c.op) == 1);
    CHECK(static_cast<bool>(c.grad_inputs));
    tabled.insert(c.op);
  }
  for (const auto& op : kDifferentiableOps) {
    INFO(op);
    CHECK(tabled.count(op) == 1);
  }
}

}  // namespace tether::op_table
