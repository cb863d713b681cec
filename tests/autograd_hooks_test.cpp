// Tensor hooks (Tensor::register_hook, register_post_accumulate_grad_hook) and
// autograd::queue_callback, as torch's.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "tether/tether.h"

using Catch::Matchers::Contains;
using tether::AutogradError;
using tether::DType;
using tether::HookHandle;
using tether::Tensor;
namespace autograd = tether::autograd;

namespace {

Tensor leaf(const std::vector<double>& values) {
  return tether::tensor(values, {static_cast<std::int64_t>(values.size())}, DType::f64)
      .requires_grad_();
}

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

}  // namespace

TEST_CASE("a hook on a leaf sees its gradient and its replacement is what accumulates",
          "[autograd][hooks]") {
  Tensor x = leaf({1, 2});
  std::vector<double> seen;
  x.register_hook([&](const Tensor& g) {
    seen = values(g);
    return g * 10.0;
  });
  (x * x).sum().backward();
  CHECK(seen == std::vector<double>{2, 4});
  CHECK(values(x.grad()) == std::vector<double>{20, 40});
}

TEST_CASE("a hook on a non-leaf changes the gradient that flows on to its inputs",
          "[autograd][hooks]") {
  Tensor x = leaf({1, 2});
  Tensor z = x * 3.0;
  z.register_hook([](const Tensor& g) { return g + 1.0; });
  (z * 1.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 6});
}

TEST_CASE("a hook on one output of a multi-output op changes only that output's gradient",
          "[autograd][hooks]") {
  Tensor x = leaf({1, 2, 3});
  const std::vector<Tensor> parts = x.unbind(0);
  parts[1].register_hook([](const Tensor& g) { return g * 10.0; });
  (parts[0] + parts[1] + parts[2]).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 10, 1});
}

TEST_CASE("hooks run in registration order, each on the previous one's result; void hooks observe",
          "[autograd][hooks]") {
  Tensor x = leaf({1});
  std::vector<double> seen;
  x.register_hook([](const Tensor& g) { return g + 1.0; });
  x.register_hook([&](const Tensor& g) { seen.push_back(g.item<double>()); });
  x.register_hook([](const Tensor& g) { return g * 2.0; });
  (x * 5.0).sum().backward();
  CHECK(seen == std::vector<double>{6});
  CHECK(x.grad().item<double>() == 12);
}

TEST_CASE("a leaf's hook stays across graphs until its handle removes it", "[autograd][hooks]") {
  Tensor x = leaf({1});
  int calls = 0;
  HookHandle handle = x.register_hook([&](const Tensor&) { ++calls; });
  (x * 2.0).sum().backward();
  (x * 3.0).sum().backward();
  CHECK(calls == 2);
  handle.remove();
  handle.remove();  // a second remove does nothing
  (x * 4.0).sum().backward();
  CHECK(calls == 2);
  CHECK(x.grad().item<double>() == 9);
}

TEST_CASE("removing a hook after its tensor is gone does nothing", "[autograd][hooks]") {
  HookHandle handle;
  {
    Tensor x = leaf({1});
    handle = (x * 2.0).register_hook([](const Tensor& g) { return g; });
  }
  handle.remove();
}

TEST_CASE("autograd::grad returns the gradient before the input's hooks, as torch 1.13",
          "[autograd][hooks]") {
  Tensor x = leaf({1, 2});
  x.register_hook([](const Tensor& g) { return g * 10.0; });
  Tensor z = x * 3.0;
  z.register_hook([](const Tensor& g) { return g + 1.0; });
  std::vector<Tensor> grads = autograd::grad({(z * 1.0).sum()}, {x, z});
  CHECK(values(grads[0]) == std::vector<double>{6, 6});  // z's hook acted on the way to x
  CHECK(values(grads[1]) == std::vector<double>{1, 1});
}

TEST_CASE("register_hook on a tensor that does not require grad throws AutogradError",
          "[autograd][hooks]") {
  Tensor x = tether::tensor({1.0}, {1}, DType::f64);
  auto hook_on_a_constant = [&] { x.register_hook([](const Tensor& g) { return g; }); };
  CHECK_THROWS_AS(hook_on_a_constant(), AutogradError);
  CHECK_THROWS_WITH(hook_on_a_constant(),
                    Contains("register_hook") && Contains("does not require grad"));
}

TEST_CASE("a hook that returns a gradient of another shape throws AutogradError naming both",
          "[autograd][hooks]") {
  auto backward_through_summing_hook = [] {
    Tensor x = leaf({1, 2});
    x.register_hook([](const Tensor& g) { return g.sum(); });
    (x * 2.0).sum().backward();
  };
  CHECK_THROWS_AS(backward_through_summing_hook(), AutogradError);
  CHECK_THROWS_WITH(backward_through_summing_hook(),
                    Contains("register_hook") && Contains("shape []") && Contains("shape [2]"));
}

TEST_CASE("a post-accumulate hook runs once, after every use of the leaf has added to grad()",
          "[autograd][hooks]") {
  Tensor x = leaf({1, 2});
  x.set_grad(tether::tensor({100.0, 100.0}, {2}, DType::f64));
  std::vector<std::vector<double>> seen;
  x.register_post_accumulate_grad_hook([&](const Tensor& l) {
    CHECK(l.is_same(x));
    seen.push_back(values(l.grad()));
  });
  (x * 2.0 + x * x).sum().backward();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::vector<double>{104, 106});
}

TEST_CASE("a post-accumulate hook sees the leaf's gradient after its register_hook hooks",
          "[autograd][hooks]") {
  Tensor x = leaf({1});
  x.register_hook([](const Tensor& g) { return g * 0.5; });
  double seen = 0;
  x.register_post_accumulate_grad_hook([&](const Tensor& l) { seen = l.grad().item<double>(); });
  (x * 4.0).sum().backward();
  CHECK(seen == 2);
}

TEST_CASE("autograd::grad, which accumulates nothing, runs no post-accumulate hook",
          "[autograd][hooks]") {
  Tensor x = leaf({1});
  int calls = 0;
  x.register_post_accumulate_grad_hook([&](const Tensor&) { ++calls; });
  autograd::grad({(x * 2.0).sum()}, {x});
  CHECK(calls == 0);
}

TEST_CASE("register_post_accumulate_grad_hook on a non-leaf throws AutogradError",
          "[autograd][hooks]") {
  Tensor y = leaf({1}) * 2.0;
  auto hook_on_a_non_leaf = [&] { y.register_post_accumulate_grad_hook([](const Tensor&) {}); };
  CHECK_THROWS_AS(hook_on_a_non_leaf(), AutogradError);
  CHECK_THROWS_WITH(hook_on_a_non_leaf(),
                    Contains("register_post_accumulate_grad_hook") && Contains("non-leaf"));
}

TEST_CASE("queue_callback runs after every node of the backward, before backward returns",
          "[autograd][hooks]") {
  Tensor x = leaf({1});
  Tensor w = leaf({2});
  std::vector<std::string> events;
  bool queued = false;
  auto note = [&](const char* name) {
    return [&, name](const Tensor&) {
      events.push_back(name);
      if (!std::exchange(queued, true))
        autograd::queue_callback([&] {
          events.push_back("callback");
          autograd::queue_callback([&] { events.push_back("queued by the callback"); });
        });
    };
  };
  x.register_post_accumulate_grad_hook(note("x"));
  w.register_post_accumulate_grad_hook(note("w"));
  (x * w).sum().backward();
  REQUIRE(events.size() == 4);
  CHECK(events[2] == "callback");
  CHECK(events[3] == "queued by the callback");
}

TEST_CASE("queue_callback outside a backward throws AutogradError", "[autograd][hooks]") {
  CHECK_THROWS_AS(autograd::queue_callback([] {}), AutogradError);
  CHECK_THROWS_WITH(autograd::queue_callback([] {}),
                    Contains("queue_callback") && Contains("no backward is running"));
}
