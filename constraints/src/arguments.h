// Checks of the numbers a constraint or a projection is made with: a NaN or
// an infinite bound would turn every value into NaN at the first forward.
#pragma once

#include <cmath>

#include "tether/error.h"

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

}  // namespace tether::detail
