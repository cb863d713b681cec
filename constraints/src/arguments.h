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

/// The raw inputs of constraint `name`; ValueError unless `raw` holds
/// exactly `count` defined tensors.
inline const std::vector<Tensor>& checked_raw_inputs(const std::string& name,
                                                     const std::vector<Tensor>& raw,
                                                     std::size_t count) {
  if (raw.size() != count) {
    if (count == 1) fail<ValueError>(name, ": expected one raw input, got ", raw.size());
    fail<ValueError>(name, ": expected ", count, " raw inputs, got ", raw.size());
  }
  for (const Tensor& input : raw)
    if (!input.defined())
      fail<ValueError>(name, ": expected a defined raw input, got an undefined one");
  return raw;
}

/// The one raw input of constraint `name` (checked_raw_inputs).
inline const Tensor& single_raw_input(const std::string& name, const std::vector<Tensor>& raw) {
  return checked_raw_inputs(name, raw, 1)[0];
}

}  // namespace tether::detail
