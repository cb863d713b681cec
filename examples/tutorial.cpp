// The program behind docs/TUTORIAL.md: one small computation followed through
// the engine, then a computed parameter's cache across a training step. Each
// numbered part prints what the tutorial's section of the same number explains.
#include <tether/node.h>  // autograd::Node, to look inside the graph
#include <tether/tether.h>

#include <iostream>

using namespace tether;

namespace {

void part(int number, const char* title) {
  std::cout << "\n== " << number << ". " << title << '\n';
}

/// Reports how often `weight` has run its constraint so far.
void report(const char* moment, const ComputedParameter& weight) {
  std::cout << moment << ": the constraint has run " << weight.recompute_count() << " time(s)\n";
}

}  // namespace

int main() {
  manual_seed(0);

  part(1, "a computation records a graph");
  const Tensor x = tensor({1.0, 2.0, 3.0});
  const Tensor w = tensor({0.5, -0.5, 0.25}).requires_grad_();
  const Tensor b = tensor({0.1}).requires_grad_();
  const Tensor loss = tanh(w * x + b).sum();
  std::cout << "loss = " << loss.item<double>() << ", made by node '" << loss.grad_fn()->name()
            << "'\n";
  std::cout << "w is a leaf: " << std::boolalpha << w.is_leaf()
            << ", loss is a leaf: " << loss.is_leaf() << '\n';
  std::cout << autograd::to_dot(loss);

  part(2, "backward walks the graph once, then frees it");
  loss.backward();
  std::cout << "dloss/dw = " << w.grad() << "\ndloss/db = " << b.grad() << '\n';
  try {
    loss.backward();
  } catch (const Error& error) {
    std::cout << "a second backward: " << error.what() << '\n';
  }

  part(3, "in-place writes bump a version counter");
  Tensor v = ones({2});
  std::cout << "version of v: " << v.version();
  v.mul_(2.0);
  std::cout << ", after v.mul_(2): " << v.version() << '\n';
  Tensor e = exp(w);  // exp saves its output e for backward, with e's version then
  {
    NoGradGuard no_grad;  // tether refuses in-place writes to tensors needing grad otherwise
    e.mul_(2.0);
  }
  try {
    e.sum().backward();
  } catch (const Error& error) {
    std::cout << "backward after a write into a saved tensor: " << error.what() << '\n';
  }

  part(4, "a computed parameter's cache across a training step");
  nn::Linear layer(3, 2);
  const auto weight = spectrally_normalize(layer.weight);
  layer.weight = weight;
  optim::SGD sgd(layer.parameters(), {.lr = 0.1});
  report("after construction", *weight);
  const Tensor input = randn({4, 3});
  const Tensor step_loss = layer(input).pow(2.0).mean() + layer(input * 2.0).pow(2.0).mean();
  report("after a forward that uses the layer twice", *weight);
  sgd.zero_grad();
  step_loss.backward();
  report("after backward (which keeps the constraint's graph)", *weight);
  layer(input * 3.0).pow(2.0).mean().backward();
  report("after a second loss and its backward", *weight);
  sgd.step();
  report("after sgd.step() (which wrote the raw weight)", *weight);
  layer(input);
  report("after the next forward", *weight);
  {
    NoGradGuard no_grad;
    layer.eval();
    layer(input);
    layer(input);
    report("after two forwards in eval mode without grad", *weight);
  }
  return 0;
}
