// The spectral-normalisation toy, shared by examples/spectral_norm_sgd and
// bench/seed_sn_sgd: a Linear(3, 4) with a spectrally normalised weight learns,
// by plain SGD, a target matrix whose largest singular value is 1.
#pragma once

#include <tether/tether.h>

#include <memory>

namespace tether::examples {

class SpectralNormToy {
 public:
  /// Draws the model and the target from the global generator (seed it first).
  SpectralNormToy(double lr, int batch) : linear_(3, 4), batch_(batch) {
    linear_.weight = spectrally_normalize(linear_.weight);
    const Tensor t = randn({3, 4});
    target_ = t / largest_singular_value(t);
    sgd_ = std::make_unique<optim::SGD>(linear_.parameters(), optim::SGDOptions{.lr = lr});
  }

  /// One SGD step on a fresh batch; returns the loss.
  Tensor step() {
    const Tensor input = randn({batch_, 3});
    const Tensor loss = nn::mse_loss(linear_(input), input.matmul(target_));
    sgd_->zero_grad();
    loss.backward();
    sgd_->step();
    return loss;
  }

  /// The learned weight minus target^T, in eval mode.
  Tensor weight_error() {
    linear_.eval();
    NoGradGuard no_grad;
    const Tensor error = linear_.weight->value() - target_.t();
    linear_.train();
    return error;
  }

  nn::Linear& linear() { return linear_; }

 private:
  nn::Linear linear_;
  Tensor target_;
  std::unique_ptr<optim::SGD> sgd_;
  int batch_;
};

}  // namespace tether::examples
