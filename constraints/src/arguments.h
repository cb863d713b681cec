// Checks of the numbers a constraint or a projection is made with: a NaN or
// an infinite bound would turn every value into NaN at the first forward.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "tether/error.h"
#include "tether/tensor.h"

namespace tether::detail {

/// Throws ValueError naming `op` and its argument `what` unless `value` is finite.
inline void check_finite(const char* op, const char* what, double value) {
  if (!std::isfinite(value)) fail<ValueError>(op, ": expected a finite ", what, ", got ", value);
}

/// Throws ValueError naming `op` and its argument `what` unless `value` is
/// finite and positive.
inline void check_positive(const char* op, const char* what, double value) {
  check_finite(op, what, value);
  if (!(value > 0)) fail<ValueError>(op, ": expected a positive ", what, ", got ", value);
}

/// The one raw input of constraint `name`; ValueError unless `raw` holds
/// exactly one defined tensor.
inline const Tensor& single_raw_input(const std::string& name, const std::vector<Tensor>& raw) {
  if (raw.size() != 1) fail<ValueError>(name, ": expected one raw input, got ", raw.size());
  if (!raw[0].defined())
    fail<ValueError>(name, ": expected a defined raw input, got an undefined one");
  return raw[0];
}

}  // namespace tether::detail
