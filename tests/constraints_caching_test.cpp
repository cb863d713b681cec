// The caching rules of ComputedParameter, each asserted by counting how often
// the constraint's forward runs.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "doubling.h"
#include "tensor_checks.h"
#include "tether/node.h"

using namespace tether;
using namespace tether::testing;
using Catch::Matchers::Contains;
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

using ConstrainWeight =
    std::function<std::shared_ptr<ComputedParameter>(const std::shared_ptr<Parameter>&)>;

/// The weights of the GAN-critic tests. Spectral norm runs no power iteration,
/// so that a layer recomputing at every use sees the same value as a cached one.
std::vector<std::pair<const char*, ConstrainWeight>> constrained_weights() {
  return {
      {"spectral_norm",
       [](const std::shared_ptr<Parameter>& w) {
         return spectrally_normalize(w, 0, /*power_iteration_steps=*/0);
       }},
      {"orthogonal",
       [](const std::shared_ptr<Parameter>& w) { return constrain(w, constraints::orthogonal()); }},
  };
}

/// Linear(3, 3) in f64 with a constrained weight, the same layer at every call;
/// `cached` false makes the weight recompute at every use.
struct ConstrainedLinear {
  ConstrainedLinear(const ConstrainWeight& constrain_weight, bool cached) {
    manual_seed(11);
    layer = std::make_shared<nn::Linear>(3, 3, true, DType::f64);
    weight = constrain_weight(layer->weight);
    weight->set_recompute_every_use(!cached);
    layer->weight = weight;
  }
  Tensor raw() const { return weight->raw_inputs()[0]; }
  Tensor loss(const Tensor& x) const { return (*layer)(x).pow(2.0).sum(); }

  std::shared_ptr<nn::Linear> layer;
  std::shared_ptr<ComputedParameter> weight;
};

/// A GAN critic's two losses (real and fake batches) through one cached
/// constrained weight, beside a twin layer whose weight recomputes at every use.
struct TwoLosses {
  explicit TwoLosses(const ConstrainWeight& constrain_weight)
      : cached(constrain_weight, true), uncached(constrain_weight, false) {
    manual_seed(12);
    x1 = randn({4, 3}, DType::f64);
    x2 = randn({4, 3}, DType::f64);
    a = cached.loss(x1);
    b = cached.loss(x2);
  }

  ConstrainedLinear cached, uncached;
  Tensor x1, x2, a, b;
};

/// Runs `check` on the two losses of each constrained weight.
void for_each_weight(const std::function<void(const std::string& name, TwoLosses&)>& check) {
  for (const auto& [name, constrain_weight] : constrained_weights()) {
    INFO(name);
    TwoLosses losses(constrain_weight);
    check(name, losses);
  }
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

TEST_CASE("computed parameter keeps its cache across backwards and recomputes after a step",
          "[caching]") {
  Counted c;
  c.parameter->value().sum().backward();
  (c.parameter->value() * 3.0).sum().backward();
  CHECK(c.constraint->calls == 1);
  CHECK(c.parameter->recompute_count() == 1);
  CHECK(c.raw().grad().to_vector<double>() == full({2, 3}, 8.0, DType::f64).to_vector<double>());
  sgd_step(c.raw());
  c.parameter->value();
  CHECK(c.parameter->recompute_count() == 2);
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

TEST_CASE("two losses through one constrained weight both backward (the GAN critic pattern)",
          "[caching]") {
  for_each_weight([](const std::string&, TwoLosses& t) {
    t.a.backward();
    t.b.backward();
    t.uncached.loss(t.x1).backward();
    t.uncached.loss(t.x2).backward();
    CHECK(max_abs_diff(t.cached.raw().grad(), t.uncached.raw().grad()) < 1e-12);
    CHECK(max_abs_diff(t.cached.layer->bias->value().grad(),
                       t.uncached.layer->bias->value().grad()) < 1e-12);
    CHECK(t.cached.weight->recompute_count() == 1);

    optim::SGD sgd(t.cached.layer->parameters(), {.lr = 0.1});
    sgd.step();
    t.cached.loss(t.x1);
    CHECK(t.cached.weight->recompute_count() == 2);
  });
}

TEST_CASE("autograd::grad runs twice through a cached constrained weight", "[caching]") {
  for_each_weight([](const std::string&, TwoLosses& t) {
    for (const auto& [loss, x] : {std::pair{t.a, t.x1}, std::pair{t.b, t.x2}}) {
      const Tensor expected = autograd::grad({t.uncached.loss(x)}, {t.uncached.raw()})[0];
      CHECK(max_abs_diff(autograd::grad({loss}, {t.cached.raw()})[0], expected) < 1e-12);
    }
    CHECK(t.cached.weight->recompute_count() == 1);
  });
}

TEST_CASE("a gradient penalty and two losses backward through one cached constrained weight",
          "[caching]") {
  for_each_weight([](const std::string&, TwoLosses& t) {
    // WGAN-GP's penalty: its graph holds the backward of the constraint's graph.
    const auto penalty = [&](const ConstrainedLinear& critic) {
      const Tensor x = t.x1.detach().clone().requires_grad_();
      return autograd::grad({critic.loss(x)}, {x}, {}, std::nullopt, /*create_graph=*/true)[0]
          .pow(2.0)
          .sum();
    };
    (penalty(t.cached) + t.a).backward();
    t.b.backward();
    (penalty(t.uncached) + t.uncached.loss(t.x1)).backward();
    t.uncached.loss(t.x2).backward();
    CHECK(max_abs_diff(t.cached.raw().grad(), t.uncached.raw().grad()) < 1e-12);
    CHECK(t.cached.weight->recompute_count() == 1);
  });
}

TEST_CASE("a loss built before an optimizer step and backwarded after it: right or refused",
          "[caching]") {
  for_each_weight([](const std::string& name, TwoLosses& t) {
    optim::SGD sgd(t.cached.layer->parameters(), {.lr = 0.1});
    t.a.backward();
    sgd.step();
    sgd.zero_grad();
    t.cached.loss(t.x1).backward();  // the next forward recomputes and works
    CHECK(t.cached.weight->recompute_count() == 2);
    sgd.zero_grad();
    if (name == "spectral_norm") {
      // W / sigma(W) saved the raw weight, which the step wrote in place.
      CHECK_THROWS_WITH(t.b.backward(), Contains("modified by an in-place operation"));
    } else {
      // Nothing b's graph saved was written: b's gradient at the weights it saw.
      t.b.backward();
      t.uncached.loss(t.x2).backward();
      CHECK(max_abs_diff(t.cached.raw().grad(), t.uncached.raw().grad()) < 1e-12);
    }
  });
}

TEST_CASE("a constraint's graph is freed when a recompute replaces it and no loss uses it",
          "[caching]") {
  Counted c;
  std::weak_ptr<autograd::Node> first_graph = c.parameter->value().grad_fn();
  Tensor loss = c.parameter->value().sum();
  loss.backward();
  sgd_step(c.raw());
  c.parameter->value();
  CHECK_FALSE(first_graph.expired());  // the loss built on the old value still holds it
  loss = Tensor();
  CHECK(first_graph.expired());
}

TEST_CASE("200 training steps of a spectrally normalised layer do not grow the memory in use",
          "[caching]") {
  const auto bytes_in_use = [] { return allocator(Device::cpu()).stats().bytes_in_use; };
  const std::size_t before = bytes_in_use();
  {
    manual_seed(13);
    nn::Linear layer(3, 3, true, DType::f64);
    layer.weight = spectrally_normalize(layer.weight);
    optim::SGD sgd(layer.parameters(), {.lr = 0.01});
    const Tensor x = randn({4, 3}, DType::f64);
    const auto step = [&] {
      sgd.zero_grad();
      layer(x).pow(2.0).sum().backward();
      sgd.step();
    };
    for (int i = 0; i < 20; ++i) step();
    const std::size_t at_step_20 = bytes_in_use();
    for (int i = 20; i < 200; ++i) step();
    CHECK(bytes_in_use() == at_step_20);
  }
  CHECK(bytes_in_use() == before);
}
