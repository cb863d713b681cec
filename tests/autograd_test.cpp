// The autograd engine's behaviour: what backward and autograd::grad compute,
// when they accumulate, retain or free the graph, higher-order gradients, grad
// mode, in-place safety, and graphs too deep for recursion.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tether/tether.h"

using Catch::Matchers::Contains;
using tether::AutogradError;
using tether::DType;
using tether::Shape;
using tether::Tensor;
namespace autograd = tether::autograd;

namespace {

/// An f64 leaf that requires grad.
Tensor leaf(const std::vector<double>& values, const Shape& shape) {
  return tether::tensor(values, shape, DType::f64).requires_grad_();
}
Tensor leaf(const std::vector<double>& values) {
  return leaf(values, {static_cast<std::int64_t>(values.size())});
}

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

/// The message of the E that `action` throws (fails the test if it throws none).
template <class E, class Action>
std::string message_of(Action&& action) {
  try {
    action();
  } catch (const E& error) {
    return error.what();
  }
  FAIL("expected an exception");
  return {};
}

/// x scaled by 1.0000001 `steps` times, then summed: a graph `steps` ops deep.
/// With saved tensors each step is a mul that saves the previous step, so the
/// chain is owned through saved tensors as well as through graph edges.
Tensor deep_chain(const Tensor& x, int steps, bool with_saved_tensors) {
  const Tensor factor = tether::scalar_tensor(1.0000001, DType::f64);
  Tensor y = x;
  for (int i = 0; i < steps; ++i) y = with_saved_tensors ? y * factor : y * 1.0000001;
  return y.sum();
}

}  // namespace

TEST_CASE("backward on a scalar fills the grad of every leaf", "[autograd]") {
  const Tensor x = leaf({1, 2, 3}), w = leaf({4, 5, 6});
  const Tensor y = (x * w).sum();
  CHECK_FALSE(x.grad().defined());
  y.backward();
  CHECK(values(x.grad()) == std::vector<double>{4, 5, 6});
  CHECK(values(w.grad()) == std::vector<double>{1, 2, 3});
  CHECK(x.grad().shape() == x.shape());
  CHECK_FALSE(x.grad().requires_grad());
}

TEST_CASE("backward with an explicit gradient computes a vector-Jacobian product", "[autograd]") {
  const Tensor x = leaf({1, 2, 3});
  const Tensor y = x * x;
  y.backward(tether::tensor({1, 0.5, 2}, {3}, DType::f64));
  CHECK(values(x.grad()) == std::vector<double>{2, 2, 12});
}

TEST_CASE("gradients accumulate into leaves across backward calls", "[autograd]") {
  const Tensor x = leaf({1, 2});
  (x * 3.0).sum().backward();
  (x * 3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 6});

  x.set_grad(Tensor());
  (x * 3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{3, 3});
}

TEST_CASE("retain_graph allows a second backward and without it the graph is freed", "[autograd]") {
  const Tensor x = leaf({1, 2});
  const Tensor y = (x * x).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  CHECK(values(x.grad()) == std::vector<double>{4, 8});

  CHECK_THAT(message_of<AutogradError>([&] { y.backward(); }), Contains("second time"));
  CHECK(values(x.grad()) == std::vector<double>{4, 8});
}

TEST_CASE("create_graph makes gradients differentiable: d2/dx2 of x^3 is 6x", "[autograd]") {
  const Tensor x = leaf({1, 2, -3});
  const Tensor y = x.pow(3.0).sum();

  SECTION("through autograd::grad") {
    const Tensor dy = autograd::grad({y}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
    CHECK(values(dy) == std::vector<double>{3, 12, 27});
    REQUIRE(dy.requires_grad());
    dy.sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{6, 12, -18});
  }
  SECTION("through backward, whose grad() then has a graph") {
    y.backward({}, false, /*create_graph=*/true);
    REQUIRE(x.grad().grad_fn() != nullptr);
    const Tensor d2y = autograd::grad({x.grad().sum()}, {x})[0];
    CHECK(values(d2y) == std::vector<double>{6, 12, -18});
    x.set_grad(Tensor());  // x -> grad() -> its graph -> x is a cycle, as in PyTorch
  }
}

TEST_CASE("with create_graph, relu, abs and leaky_relu give gradients in the graph, as in PyTorch",
          "[autograd]") {
  // torch 1.13 at x = [-1, 0.5, 2]: grad(op(x).sum(), x, create_graph=True) is
  // [0, 1, 1], [-1, 1, 1] and [0.25, 1, 1], each with a grad_fn; its own grad
  // is [0, 0, 0]; backward(create_graph=True) leaves an x.grad with a grad_fn.
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
      {"relu", [](const Tensor& x) { return tether::relu(x); }},
      {"abs", [](const Tensor& x) { return tether::abs(x); }},
      {"leaky_relu", [](const Tensor& x) { return tether::leaky_relu(x, 0.25); }},
  };
  const std::vector<std::vector<double>> first = {{0, 1, 1}, {-1, 1, 1}, {0.25, 1, 1}};
  const std::vector<double> zero = {0, 0, 0};
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto& [name, op] = ops[i];
    INFO(name);
    const Tensor x = leaf({-1, 0.5, 2});
    const Tensor dy =
        autograd::grad({op(x).sum()}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
    CHECK(values(dy) == first[i]);
    REQUIRE(dy.requires_grad());
    CHECK(values(autograd::grad({dy.sum()}, {x})[0]) == zero);

    op(x).sum().backward({}, false, /*create_graph=*/true);
    CHECK(values(x.grad()) == first[i]);
    REQUIRE(x.grad().requires_grad());
    CHECK(values(autograd::grad({x.grad().sum()}, {x})[0]) == zero);
    x.set_grad(Tensor());  // x -> grad() -> its graph -> x is a cycle, as in PyTorch
  }
}

TEST_CASE("with create_graph, a linear function's gradient is in the graph, its own grad zero",
          "[autograd]") {
  // torch 1.13 returns 3 * ones without a grad_fn here, and a second grad raises
  // "element 0 of tensors does not require grad": tether keeps one rule for all
  // ops, and the second derivative of a linear function is zero.
  const Tensor x = leaf({-1, 0.5, 2});
  const Tensor dy =
      autograd::grad({(x * 3.0 + 1.0).sum()}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  CHECK(values(dy) == std::vector<double>{3, 3, 3});
  REQUIRE(dy.requires_grad());
  CHECK(values(autograd::grad({dy.sum()}, {x})[0]) == std::vector<double>{0, 0, 0});
  CHECK(values(autograd::grad({(x * 3.0).sum()}, {x})[0]) == std::vector<double>{3, 3, 3});
  CHECK_FALSE(autograd::grad({(x * 3.0).sum()}, {x})[0].requires_grad());  // without create_graph
}

TEST_CASE("second derivatives flow through ops that save their own output", "[autograd]") {
  const Tensor x = leaf({0, 1, -2});
  const Tensor dy = autograd::grad({x.exp().sum()}, {x}, {}, std::nullopt, true)[0];
  const Tensor d2y = autograd::grad({dy.sum()}, {x})[0];
  const std::vector<double> exp_x = values(x.exp());
  CHECK(values(dy) == exp_x);
  CHECK(values(d2y) == exp_x);  // d2/dx2 exp(x) = exp(x), not 0

  tether::manual_seed(11);
  const Tensor z = tether::randn({2, 3}, DType::f64).requires_grad_();
  for (const auto& op : {tether::tanh, tether::sigmoid}) {
    CHECK(tether::gradgradcheck([&op](const std::vector<Tensor>& in) { return op(in[0]); }, {z}));
  }
  CHECK(tether::gradgradcheck([](const std::vector<Tensor>& in) { return in[0].softmax(1); }, {z}));
}

TEST_CASE("a gradient penalty differentiates the norm of an input gradient", "[autograd]") {
  SECTION("closed form: y = sum((w x)^2), penalty = |dy/dx|^2 = 4 sum(w^4 x^2)") {
    const Tensor w = leaf({0.5, -1, 2}), x = leaf({1, 2, 3});
    const Tensor y = (w * x).pow(2.0).sum();
    const Tensor dy_dx = autograd::grad({y}, {x}, {}, std::nullopt, true)[0];
    const Tensor penalty = (dy_dx * dy_dx).sum();
    CHECK_FALSE(w.grad().defined());
    penalty.backward();
    CHECK(values(w.grad()) == std::vector<double>{2, -64, 1152});  // 16 w^3 x^2
    CHECK(values(x.grad()) == std::vector<double>{0.5, 16, 384});  // 8 w^4 x
  }
  SECTION("through matmul and tanh, against finite differences") {
    tether::manual_seed(3);
    const Tensor x = tether::randn({4, 3}, DType::f64).requires_grad_();
    const Tensor w = tether::randn({3, 2}, DType::f64).requires_grad_();
    const auto penalty = [&x](const std::vector<Tensor>& params) {
      const Tensor y = tether::tanh(x.matmul(params[0])).sum();
      const Tensor dy_dx = autograd::grad({y}, {x}, {}, std::nullopt, true)[0];
      return (dy_dx * dy_dx).sum();
    };
    CHECK(tether::gradcheck(penalty, {w}));
  }
}

TEST_CASE("autograd::grad returns gradients of leaves and non-leaves without touching grad()",
          "[autograd]") {
  const Tensor x = leaf({1, 2});
  const Tensor h = x * 2.0;  // not a leaf
  const Tensor y = (h * h).sum();
  const std::vector<Tensor> grads = autograd::grad({y}, {x, h});
  REQUIRE(grads.size() == 2);
  CHECK(values(grads[0]) == std::vector<double>{8, 16});  // 8x
  CHECK(values(grads[1]) == std::vector<double>{4, 8});   // 2h
  CHECK_FALSE(grads[0].requires_grad());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(h.grad().defined());
}

TEST_CASE("autograd::grad reports an unused input unless allow_unused", "[autograd]") {
  const Tensor x = leaf({1, 2}), unused = leaf({5});
  CHECK_THAT(message_of<AutogradError>([&] {
               autograd::grad({x.sum()}, {x, unused});
             }),
             Contains("not used"));

  const std::vector<Tensor> grads =
      autograd::grad({x.sum()}, {x, unused}, {}, std::nullopt, false, /*allow_unused=*/true);
  CHECK(values(grads[0]) == std::vector<double>{1, 1});
  CHECK_FALSE(grads[1].defined());
}

TEST_CASE("detach shares data but stops gradients", "[autograd]") {
  const Tensor x = leaf({1, 2, 3});
  const Tensor constant = x.detach();
  CHECK_FALSE(constant.requires_grad());
  CHECK(constant.is_leaf());
  CHECK(constant.storage() == x.storage());

  (x * constant).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 2, 3});  // not 2x: one path only
}

TEST_CASE("requires_grad_ refuses integer tensors and non-leaves", "[autograd]") {
  Tensor labels = tether::arange(3);
  CHECK_THROWS_AS(labels.requires_grad_(), tether::DTypeError);
  CHECK_FALSE(labels.requires_grad());

  Tensor product = leaf({1}) * 2.0;
  CHECK_THROWS_AS(product.requires_grad_(false), AutogradError);
}

TEST_CASE("NoGradGuard stops recording within its scope and only on its thread", "[autograd]") {
  const Tensor x = leaf({1, 2});
  bool other_thread_grad_mode = false, other_thread_records = false;
  {
    tether::NoGradGuard no_grad;
    CHECK_FALSE(tether::is_grad_enabled());
    const Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);

    std::thread worker([&] {
      other_thread_grad_mode = tether::is_grad_enabled();
      other_thread_records = (x * 2.0).grad_fn() != nullptr;
    });
    worker.join();
  }
  CHECK(other_thread_grad_mode);
  CHECK(other_thread_records);
  CHECK(tether::is_grad_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("backward through a tensor modified in place after it was saved throws", "[autograd]") {
  const Tensor x = leaf({1, 2, 3});
  SECTION("an input saved by mul") {
    Tensor weight = tether::ones({3}, DType::f64);
    const Tensor y = (x * weight).sum();
    weight.add_(1.0);
    const std::string message = message_of<AutogradError>([&] { y.backward(); });
    CHECK_THAT(message, Contains("mul") && Contains("modified by an in-place operation"));
  }
  SECTION("an output saved by exp") {
    Tensor e = x.exp();
    const Tensor y = e.sum();
    {
      tether::NoGradGuard no_grad;
      e.mul_(2.0);
    }
    const std::string message = message_of<AutogradError>([&] { y.backward(); });
    CHECK_THAT(message, Contains("exp") && Contains("modified by an in-place operation"));
  }
}

TEST_CASE("in-place writes to a leaf that requires grad need NoGradGuard", "[autograd]") {
  Tensor x = leaf({1, 2});
  CHECK_THAT(message_of<AutogradError>([&] { x.add_(1.0); }), Contains("add_"));
  CHECK_THROWS_AS(x.zero_(), AutogradError);
  CHECK(values(x) == std::vector<double>{1, 2});

  const auto version = x.version();
  {
    tether::NoGradGuard no_grad;
    x.sub_(tether::ones({2}, DType::f64), 0.5);
  }
  CHECK(values(x) == std::vector<double>{0.5, 1.5});
  CHECK(x.version() == version + 1);
  CHECK(x.requires_grad());
}

TEST_CASE("add_ and sub_ with a scale equal self + alpha * other, broadcast and in every dtype",
          "[autograd]") {
  for (const DType dtype : {DType::f32, DType::f64}) {
    Tensor x = tether::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, dtype);
    x.add_(tether::tensor({1, 1, 1, 2, 2, 2}, {2, 3}, dtype), 0.5);
    CHECK(x.to_vector<double>() == std::vector<double>{1.5, 2.5, 3.5, 5, 6, 7});
    x.sub_(tether::tensor({1, 2, 3}, {3}, dtype), 2);  // a row broadcast over x's rows
    CHECK(x.to_vector<double>() == std::vector<double>{-0.5, -1.5, -2.5, 3, 2, 1});
    x.add_(tether::tensor({4}, {}, dtype), -0.25);  // a 0-d other
    CHECK(x.to_vector<double>() == std::vector<double>{-1.5, -2.5, -3.5, 2, 1, 0});
  }
  // Mixed dtypes and integers keep the promoting path.
  Tensor counts = tether::tensor({1, 2}, {2}, DType::i64);
  counts.add_(tether::tensor({3, 4}, {2}, DType::i64), 2);
  CHECK(counts.to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 10});
  Tensor single = tether::tensor({1, 2}, {2}, DType::f32);
  single.sub_(tether::tensor({0.5, 0.25}, {2}, DType::f64), 2);
  CHECK(single.to_vector<float>() == std::vector<float>{0, 1.5});
  CHECK_THROWS_WITH(single.add_(tether::ones({3}), 2.0),
                    Contains("add_") && Contains("[3]") && Contains("[2]"));
}

TEST_CASE(
    "in-place add_, sub_ and copy_ read an operand that overlaps self as it was before the write",
    "[autograd]") {
  // x[1:] += 2 x[:2] reads x[1] after writing it, unless the operand is read first.
  Tensor x = tether::tensor({1, 2, 3}, {3}, DType::f64);
  Tensor tail = x.narrow(0, 1, 2);
  tail.add_(x.narrow(0, 0, 2), 2);
  CHECK(x.to_vector<double>() == std::vector<double>{1, 4, 7});
  Tensor y = tether::tensor({1, 2, 3}, {3}, DType::f64);
  Tensor y_tail = y.narrow(0, 1, 2);
  y_tail.add_(y.narrow(0, 0, 2));
  CHECK(y.to_vector<double>() == std::vector<double>{1, 3, 5});
  Tensor w = tether::tensor({1, 2, 3, 4}, {2, 2}, DType::f64);
  w.copy_(w.t());  // a transpose in place
  CHECK(w.to_vector<double>() == std::vector<double>{1, 3, 2, 4});
  Tensor z = tether::tensor({1, 2, 3}, {3}, DType::f32);
  z.sub_(z, 0.5);  // self itself: element-wise, no copy needed
  CHECK(z.to_vector<float>() == std::vector<float>{0.5, 1, 1.5});
}

TEST_CASE("the gradients of a value used on several paths are summed", "[autograd]") {
  const Tensor x = leaf({1, 2});
  SECTION("x * x") {
    (x * x).sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{2, 4});
  }
  SECTION("a diamond: (x + 1) * (3x)") {
    const Tensor left = x + 1.0, right = x * 3.0;
    (left * right).sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{9, 15});  // 6x + 3
  }
}

TEST_CASE("broadcast gradients are summed back to each input's shape", "[autograd]") {
  const Tensor a = leaf({0, 1, 2, 3, 4, 5}, {2, 3});
  const Tensor row = leaf({1, 2, 3}, {3});
  const Tensor column = leaf({10, 20}, {2, 1});
  const Tensor scale = leaf({2}, {});
  (((a + row) * column) * scale).sum().backward();

  CHECK(a.grad().shape() == Shape{2, 3});
  CHECK(values(a.grad()) == std::vector<double>{20, 20, 20, 40, 40, 40});
  CHECK(row.grad().shape() == Shape{3});
  CHECK(values(row.grad()) == std::vector<double>{60, 60, 60});
  CHECK(column.grad().shape() == Shape{2, 1});
  CHECK(values(column.grad()) == std::vector<double>{18, 36});  // 2 * row sums of a + row
  CHECK(scale.grad().shape() == Shape{});
  CHECK(scale.grad().item<double>() == 9 * 10 + 18 * 20);
}

TEST_CASE("a 100,000-op chain backpropagates and is destroyed without recursion", "[autograd]") {
  constexpr int kSteps = 100'000;
  const Tensor x = leaf({1});
  SECTION("ops without saved tensors, after backward") {
    deep_chain(x, kSteps, false).backward();
    CHECK(x.grad().item<double>() == Approx(std::pow(1.0000001, kSteps)));
  }
  SECTION("ops that save their inputs, after backward") {
    deep_chain(x, kSteps, true).backward();
    CHECK(x.grad().item<double>() == Approx(std::pow(1.0000001, kSteps)));
  }
  SECTION("never backpropagated") {
    for (bool with_saved_tensors : {false, true}) {
      const Tensor y = deep_chain(x, kSteps, with_saved_tensors);
      CHECK(y.requires_grad());
    }
    CHECK_FALSE(x.grad().defined());
  }
}

TEST_CASE("to_dot draws each op and each leaf with its shape", "[autograd]") {
  const Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor w = leaf({1, 2, 3});
  const std::string dot = autograd::to_dot((x * w).exp().sum());
  CHECK_THAT(dot, Contains("digraph"));
  for (const char* op : {"mul", "exp", "sum"}) CHECK_THAT(dot, Contains(op));
  CHECK_THAT(dot, Contains("leaf [2, 3]"));
  CHECK_THAT(dot, Contains("leaf [3]"));
  CHECK_THAT(dot, Contains("output []"));
}
