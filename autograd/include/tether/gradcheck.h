// Gradient checks: compare the engine's gradients with central finite
// differences. Every differentiable op's tests use them, and so can users who
// write their own ops or constraints.
#pragma once

#include <functional>
#include <vector>

#include "tether/tensor.h"

namespace tether {

/// The function under test: tensors in, one tensor out (any shape).
using GradcheckFunction = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< an entry passes if |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
};

/// Checks d f / d inputs for every input that requires grad (f64 inputs are
/// expected; others are not perturbed). Returns true, or throws tether::Error
/// naming the input, the output and input elements and both values at the
/// worst mismatch.
bool gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
               const GradcheckOptions& options = {});

/// Checks second derivatives: gradcheck applied to the vector-Jacobian product
/// of f with a fixed random cotangent, computed with create_graph.
bool gradgradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                   const GradcheckOptions& options = {});

}  // namespace tether
