// The hyper-parameters of one fused Adam step, shared by the optimizer
// (optim/), the op that checks and dispatches it (autograd/, adam_step_ in
// ops.h) and the kernels that run it (backends/).
#pragma once

namespace tether {

/// One Adam step with its bias corrections folded in (t is the step count):
///   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2,
///   param -= step_size m / (sqrt(v) inv_sqrt_correction2 + eps),
/// where step_size = lr / (1 - beta1^t), inv_sqrt_correction2 = 1 / sqrt(1 - beta2^t).
struct AdamStep {
  double beta1;
  double beta2;
  double step_size;
  double inv_sqrt_correction2;
  double eps;
};

}  // namespace tether
