#include "tether/optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::optim {

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm, double norm_type) {
  if (!(max_norm >= 0)) fail<ValueError>("clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  if (!(norm_type > 0))
    fail<ValueError>("clip_grad_norm: norm_type must be > 0 (or infinity), got ", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  // ||g||_p over all gradients = (sum over tensors of sum |g|^p)^(1/p); the
  // infinity norm is the largest |g| instead. Partial sums are doubles.
  double total = 0;
  for (const Tensor& grad : grads) {
    if (std::isinf(norm_type))
      total = std::max(total, amax(abs(grad)).item<double>());
    else
      total += sum(pow(abs(grad), norm_type)).item<double>();
  }
  if (!std::isinf(norm_type)) total = std::pow(total, 1 / norm_type);
  // The 1e-6 keeps the coefficient finite for a zero norm and lands the
  // clipped norm just under max_norm, as torch's.
  const double coefficient = max_norm / (total + 1e-6);
  if (coefficient < 1)
    for (Tensor& grad : grads) grad.mul_(coefficient);
  return total;
}

void clip_grad_value(const std::vector<Tensor>& parameters, double clip_value) {
  if (!(clip_value >= 0))
    fail<ValueError>("clip_grad_value: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : parameters) {
    Tensor grad = p.grad();
    if (grad.defined()) grad.copy_(clamp(grad, -clip_value, clip_value));
  }
}

}  // namespace tether::optim
