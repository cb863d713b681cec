// Built against tether::optim alone: the optimizers stand without nn (and so
// without the train layer above both). One SGD step on f(x) = x^2 from x = 1.
#include <tether/ops.h>
#include <tether/optim/optimizer.h>

#include <iostream>

int main() {
  auto x = tether::ones({1}).requires_grad_();
  tether::optim::SGD sgd({x}, {.lr = 0.25});
  (x * x).sum().backward();
  sgd.step();
  const float value = x.to_vector<float>()[0];
  if (value != 0.5f) {
    std::cerr << "optim_only: expected x = 1 - 0.25 * 2 = 0.5 after one step, got " << value
              << "\n";
    return 1;
  }
  std::cout << "optim_only: ok\n";
  return 0;
}
