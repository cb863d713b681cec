// What every inference helper of tether::inference works on: an unnormalised
// log density over a list of floating tensors (a model's raw, unconstrained
// parameters), and the point to start from.
#pragma once

#include <functional>
#include <vector>

#include "tether/tensor.h"

namespace tether::inference {

/// log p(x) up to a constant, as a tensor with one element, differentiable in
/// every input. The inputs have the shapes and dtype of the initial point the
/// helper was given; every initial tensor must share one floating dtype.
using LogDensity = std::function<Tensor(const std::vector<Tensor>& unconstrained)>;

}  // namespace tether::inference
