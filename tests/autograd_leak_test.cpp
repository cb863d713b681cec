// Graphs own nothing that owns them back: training does not grow memory, and an
// op that saves its own output for backward does not keep that output alive.
// The suite also runs under LeakSanitizer in CI, which reports any cycle here.
#include <catch2/catch.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "tether/node.h"
#include "tether/tether.h"

using tether::Tensor;

namespace {

std::size_t bytes_in_use() {
  return tether::allocator(tether::Device::cpu()).stats().bytes_in_use;
}

/// A linear softmax classifier whose forward goes through ops that save their
/// own output (tanh, sigmoid, log_softmax): the place a reference cycle would hide.
class TinyClassifier {
 public:
  TinyClassifier()
      : weight_(tether::randn({4, 3}).requires_grad_()),
        gate_(tether::zeros({3}).requires_grad_()),
        inputs_(tether::randn({5, 4})),
        labels_(tether::tensor({0, 2, 1, 1, 0}, {5, 1}, tether::DType::i64)) {}

  Tensor loss() const {
    const Tensor logits = tether::tanh(inputs_.matmul(weight_)) * tether::sigmoid(gate_);
    return -tether::log_softmax(logits, 1).gather(1, labels_).mean();
  }

  /// One SGD step; every tenth step also computes a loss whose graph is dropped
  /// without a backward (a metric logged outside NoGradGuard). Backward frees
  /// saved tensors, so only a graph never backpropagated keeps a cycle alive.
  void train_step(int step) {
    loss().backward();
    if (step % 10 == 0) loss();  // its graph is dropped at once
    tether::NoGradGuard no_grad;
    for (Tensor* p : {&weight_, &gate_}) {
      p->sub_(p->grad(), 0.1);
      p->set_grad(Tensor());
    }
  }

 private:
  Tensor weight_, gate_, inputs_, labels_;
};

using UnaryOp = std::function<Tensor(const Tensor&)>;

/// Ops that save their own output for backward.
std::vector<std::pair<const char*, UnaryOp>> output_saving_ops() {
  return {
      {"exp", [](const Tensor& x) { return x.exp(); }},
      {"tanh", [](const Tensor& x) { return x.tanh(); }},
      {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }},
      {"sqrt", [](const Tensor& x) { return x.sqrt(); }},
      {"reciprocal", [](const Tensor& x) { return tether::reciprocal(x); }},
      {"softmax", [](const Tensor& x) { return x.softmax(0); }},
      {"log_softmax", [](const Tensor& x) { return x.log_softmax(0); }},
      {"amax", [](const Tensor& x) { return x.amax(); }},
      {"norm", [](const Tensor& x) { return x.norm(); }},
      {"pow", [](const Tensor& x) { return x.pow(tether::full_like(x, 2.0)); }},
  };
}

}  // namespace

TEST_CASE("10,000 training steps do not grow the memory in use", "[leak]") {
  const std::size_t before_model = bytes_in_use();
  {
    tether::manual_seed(5);
    TinyClassifier model;
    for (int step = 0; step < 100; ++step) model.train_step(step);
    const std::size_t at_step_100 = bytes_in_use();
    for (int step = 100; step < 10'000; ++step) model.train_step(step);
    CHECK(bytes_in_use() == at_step_100);
  }
  CHECK(bytes_in_use() == before_model);
}

TEST_CASE("an op's node does not keep the output it saved alive", "[leak]") {
  const Tensor x = tether::tensor({0.5, 1.0, 2.0}, {3}).requires_grad_();
  for (const auto& [name, op] : output_saving_ops()) {
    INFO(name);
    std::weak_ptr<tether::TensorImpl> output;
    std::weak_ptr<tether::autograd::Node> node;
    std::shared_ptr<tether::autograd::Node> kept_node;
    {
      const Tensor y = op(x);
      REQUIRE(y.grad_fn() != nullptr);
      CHECK(y.grad_fn()->name() == name);
      output = y.impl_ptr();
      node = y.grad_fn();
      kept_node = y.grad_fn();
    }
    CHECK(output.expired());  // the node, still held, does not own its output
    kept_node.reset();
    CHECK(node.expired());
  }
}

TEST_CASE("dropping the output and loss of a backpropagated graph frees both", "[leak]") {
  const Tensor x = tether::tensor({0.5, 1.0, 2.0}, {3}).requires_grad_();
  std::weak_ptr<tether::TensorImpl> output;
  std::weak_ptr<tether::autograd::Node> node;
  const std::size_t before = bytes_in_use();
  {
    const Tensor y = x.exp();
    const Tensor loss = (y * y).sum();
    loss.backward({}, /*retain_graph=*/true);
    output = y.impl_ptr();
    node = y.grad_fn();
  }
  CHECK(output.expired());
  CHECK(node.expired());
  x.set_grad(Tensor());
  CHECK(bytes_in_use() == before);
}

TEST_CASE("clearing grad() after a create_graph backward frees the leaf", "[leak]") {
  // The gradient's graph saves x, and x owns the gradient: a cycle (as in
  // PyTorch) that set_grad(Tensor()) breaks.
  std::weak_ptr<tether::TensorImpl> leaf;
  {
    const Tensor x = tether::tensor({1, 2}, {2}).requires_grad_();
    leaf = x.impl_ptr();
    x.pow(3.0).sum().backward({}, false, /*create_graph=*/true);
    REQUIRE(x.grad().grad_fn() != nullptr);
    x.set_grad(Tensor());
  }
  CHECK(leaf.expired());
}
