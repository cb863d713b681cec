// Small tensor checks shared by the tests: explicit f64 tensors, and the
// largest difference, smallest and largest element, finiteness of a result.
#pragma once

#include <cmath>
#include <vector>

#include "tether/tether.h"

namespace tether::testing {

/// An f64 tensor of `values` in `shape`: f64({1, 2, 3, 4}, {2, 2}).
inline Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return tensor(values, shape, DType::f64);
}

/// max |a - b|, computed in f64 outside the graph (a and b may differ in dtype).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  return amax(abs(a.detach().to(DType::f64) - b.detach().to(DType::f64))).item<double>();
}

inline double min_of(const Tensor& x) { return amin(x.detach()).item<double>(); }
inline double max_of(const Tensor& x) { return amax(x.detach()).item<double>(); }

/// Whether no element is NaN or infinite.
inline bool all_finite(const Tensor& x) {
  for (double v : x.detach().to(DType::f64).to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace tether::testing
