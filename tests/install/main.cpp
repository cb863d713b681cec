// Smoke test of an installed tether: d/dx sum(x * x) = 2x, so x = ones gives a gradient of 2s.
#include <tether/tether.h>

#include <iostream>

int main() {
  auto x = tether::ones({2, 2}).requires_grad_();
  auto y = (x * x).sum();
  y.backward();

  const auto grad = x.grad().to_vector<float>();
  if (grad.size() != 4) {
    std::cerr << "install_consumer: expected 4 gradient entries, got " << grad.size() << "\n";
    return 1;
  }
  for (float g : grad) {
    if (g != 2.0f) {
      std::cerr << "install_consumer: expected x.grad() == 2 everywhere, got " << x.grad() << "\n";
      return 1;
    }
  }
  // The data layer: two batches of two examples.
  tether::data::DataLoader loader(tether::data::TensorDataset(tether::arange(4)),
                                  {.batch_size = 2});
  if (loader.size() != 2) {
    std::cerr << "install_consumer: expected 2 batches, got " << loader.size() << "\n";
    return 1;
  }
  std::cout << "install_consumer: ok\n";
  return 0;
}
