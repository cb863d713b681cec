// A first look at tether: fit y = 3x - 1 with a two-parameter linear model by
// gradient descent, printing the graph of one step's loss and the parameters'
// gradients along the way.
#include <tether/tether.h>

#include <iostream>

int main() {
  using namespace tether;
  manual_seed(0);

  const Tensor x = linspace(-1.0, 1.0, 32).reshape({32, 1});
  const Tensor y = x * 3.0 - 1.0 + randn({32, 1}) * 0.05;

  Tensor w = zeros({1, 1}).requires_grad_();
  Tensor b = zeros({1}).requires_grad_();

  for (int step = 0; step <= 200; ++step) {
    const Tensor prediction = x.matmul(w) + b;
    const Tensor loss = (prediction - y).pow(2.0).mean();
    if (step == 0) std::cout << "graph of the loss (Graphviz):\n" << autograd::to_dot(loss) << '\n';
    loss.backward();
    if (step % 50 == 0)
      std::cout << "step " << step << "  loss " << loss.item<float>() << "  dloss/dw "
                << w.grad().item<float>() << '\n';
    NoGradGuard no_grad;  // the update itself is not part of the model
    w.sub_(w.grad(), 0.5);
    b.sub_(b.grad(), 0.5);
    w.grad().zero_();
    b.grad().zero_();
  }
  std::cout << "learned w = " << w.item<float>() << " (true 3), b = " << b.item<float>()
            << " (true -1)\n";
  return 0;
}
