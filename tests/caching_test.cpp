// The caching rules of ComputedParameter, each asserted by counting how often
// the constraint's forward runs.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include "doubling.h"

using namespace tether;
using tether::testing::Doubling;

namespace {

/// A computed parameter over a counting constraint.
struct Counted {
  explicit Counted(const Shape& shape = {2, 3})
      : parameter(std::make_shared<ComputedParameter>(
            constraint, std::vector<Tensor>{randn(shape, DType::f64)})) {}
  Tensor raw() const { return parameter->raw_inputs()[0]; }

  std::shared_ptr<Doubling> constraint = std::make_shared<Doubling>();
  std::shared_ptr<ComputedParameter> parameter;
};

/// A recurrent loop using the parameter's value at every one of 100 steps.
Tensor unroll(ComputedParameter& p) {
  Tensor h = ones({3, 1}, DType::f64);
  for (int t = 0; t < 100; ++t) h = tanh(p.value().matmul(h) * 0.1 + 0.5);
  return h.sum();
}

void sgd_step(const Tensor& raw, double lr = 0.1) {
  NoGradGuard no_grad;
  Tensor leaf = raw;
  leaf.sub_(raw.grad(), lr);
  leaf.set_grad(Tensor());
}

}  // namespace

TEST_CASE("computed parameter computes once until its raw input changes", "[caching]") {
  Counted c;
  c.parameter->value();
  c.parameter->value();
  CHECK(c.constraint->calls == 1);
  sgd_step((c.parameter->value().sum().backward(), c.raw()));
  c.parameter->value();
  CHECK(c.constraint->calls == 2);
}

TEST_CASE("computed parameter recomputes after its graph was consumed by backward", "[caching]") {
  Counted c;
  c.parameter->value().sum().backward();
  c.parameter->value();
  CHECK(c.constraint->calls == 2);
}

TEST_CASE("computed parameter keeps its cache after a backward with retain_graph", "[caching]") {
  Counted c;
  c.parameter->value().sum().backward({}, /*retain_graph=*/true);
  c.parameter->value();
  CHECK(c.constraint->calls == 1);
}

TEST_CASE("computed parameter recomputes when grad mode or train mode changes", "[caching]") {
  Counted c;
  c.parameter->value();
  {
    NoGradGuard no_grad;
    CHECK_FALSE(c.parameter->value().requires_grad());
  }
  CHECK(c.constraint->calls == 2);
  c.parameter->train(false);
  c.parameter->value();
  CHECK(c.constraint->calls == 3);
}

TEST_CASE("computed parameter recomputes after invalidate", "[caching]") {
  Counted c;
  c.parameter->value();
  c.parameter->invalidate();
  c.parameter->value();
  CHECK(c.constraint->calls == 2);
}

TEST_CASE("eval mode under no-grad computes once for a thousand forwards", "[caching]") {
  Counted c;
  c.parameter->train(false);
  NoGradGuard no_grad;
  for (int i = 0; i < 1000; ++i) c.parameter->value();
  CHECK(c.constraint->calls == 1);
}

TEST_CASE("a weight used at 100 time steps is computed once, with the same gradient", "[caching]") {
  Counted cached({3, 3}), every_use({3, 3});
  every_use.parameter->set_recompute_every_use(true);
  {
    NoGradGuard no_grad;
    every_use.raw().detach().copy_(cached.raw());
  }
  unroll(*cached.parameter).backward();
  unroll(*every_use.parameter).backward();
  CHECK(cached.constraint->calls == 1);
  CHECK(every_use.constraint->calls == 100);
  const auto a = cached.raw().grad().to_vector<double>(),
             b = every_use.raw().grad().to_vector<double>();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(1e-12));
}

TEST_CASE("two forwards before one backward work in training mode (the GAN pattern)", "[caching]") {
  Counted c;
  const Tensor real = c.parameter->value().sum(), fake = (c.parameter->value() * 3.0).sum();
  (real - fake).backward();
  CHECK(c.constraint->calls == 1);
  CHECK(c.raw().grad().to_vector<double>() == full({2, 3}, -4.0, DType::f64).to_vector<double>());
}

TEST_CASE("writing into a computed value goes through right_inverse", "[caching]") {
  Counted c;
  const Tensor wanted = full({2, 3}, 4.0, DType::f64);
  {
    NoGradGuard no_grad;
    c.parameter->value().copy_(wanted);
  }
  CHECK(c.parameter->value().to_vector<double>() == wanted.to_vector<double>());
  CHECK(c.raw().to_vector<double>() == full({2, 3}, 2.0, DType::f64).to_vector<double>());
}
