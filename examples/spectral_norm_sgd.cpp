// The classic spectral-normalisation toy: a Linear(3, 4) whose weight is
// spectrally normalised learns, by plain SGD, a target matrix whose largest
// singular value is 1. Since the constrained weight can represent the target
// exactly, weight - target^T goes to zero.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "spectral_norm_toy.h"

int main(int argc, char** argv) {
  using namespace tether;
  int steps = 1000, batch = 20, seed = 0;
  double lr = 0.1;
  CLI::App app("Fit a spectrally normalised Linear(3, 4) to a spectrally normalised target.");
  app.add_option("--steps", steps, "SGD steps")->capture_default_str();
  app.add_option("--batch", batch, "samples per step")->capture_default_str();
  app.add_option("--lr", lr, "learning rate")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  manual_seed(static_cast<std::uint64_t>(seed));
  examples::SpectralNormToy toy(lr, batch);
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < steps; ++step) {
    const Tensor loss = toy.step();
    if (step % 100 == 0) std::cout << "step " << step << "  loss " << loss.item<double>() << '\n';
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Tensor error = toy.weight_error();
  std::cout << "weight - target^T:\n" << error << '\n';
  std::cout << "bias:\n" << toy.linear().bias->value().detach() << '\n';
  std::cout << "max |weight - target^T| = " << abs(error).amax().item<double>() << '\n';
  std::cout << steps << " steps in " << seconds * 1e3 << " ms (" << seconds * 1e6 / steps
            << " us/step)\n";
  return 0;
}
