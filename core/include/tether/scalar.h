// Scalar: a number argument of an op, which remembers whether it was written
// as an integer or as a floating-point number.
#pragma once

#include <concepts>

#include "tether/dtype.h"

namespace tether {

/// A number passed to an op: x * 2, x.add_(0.5), clamp(x, 0, 1). Type promotion
/// depends on its kind, as with PyTorch's Python numbers: an i64 tensor times 2
/// stays i64, times 2.0 becomes default_float_dtype (see result_type in ops.h).
/// The value is held as a double, so integers beyond 2^53 are rounded.
class Scalar {
 public:
  template <std::integral T>
  requires(!std::same_as<T, bool>) Scalar(T value)
      : value_(static_cast<double>(value)), floating_(false) {}
  template <std::floating_point T>
  Scalar(T value) : value_(static_cast<double>(value)), floating_(true) {}

  bool is_floating_point() const { return floating_; }
  double to_double() const { return value_; }
  /// The same kind of number, negated.
  Scalar operator-() const {
    Scalar negated = *this;
    negated.value_ = -value_;
    return negated;
  }

 private:
  double value_;
  bool floating_;
};

}  // namespace tether
