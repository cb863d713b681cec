// The inference helpers' view of a LogDensity: one flat vector of coordinates
// (every input's elements, row-major, inputs in order), so that the samplers'
// arithmetic is plain loops over doubles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tether/inference/log_density.h"

namespace tether::inference::detail {

class FlatTarget {
 public:
  /// Checks the initial point: not empty, defined, one floating dtype.
  /// `function` names the helper in every error.
  FlatTarget(std::string function, LogDensity log_density, const std::vector<Tensor>& initial);

  std::int64_t size() const { return size_; }
  DType dtype() const { return dtype_; }
  const std::string& function() const { return function_; }
  /// The initial point's coordinates.
  const std::vector<double>& initial() const { return initial_; }

  /// A 1-d tensor of the coordinates, in the inputs' dtype.
  Tensor flat(const std::vector<double>& coordinates) const;
  /// The inputs as differentiable views of a 1-d tensor of size().
  std::vector<Tensor> unflatten(const Tensor& flat) const;
  /// log_density(unflatten(flat)), checked to have one element.
  Tensor log_density(const Tensor& flat) const;
  /// The log density at `coordinates`, its gradient written into `gradient`.
  double value_and_gradient(const std::vector<double>& coordinates,
                            std::vector<double>& gradient) const;
  /// Throws ValueError unless the log density at the initial point is finite.
  void check_initial_value(double value) const;
  /// rows: num_rows * size() coordinates -> per input [num_rows, ...shape].
  std::vector<Tensor> stack_rows(const std::vector<double>& rows, std::int64_t num_rows,
                                 DType dtype) const;
  /// size() coordinates -> one tensor per input, with its shape.
  std::vector<Tensor> split(const std::vector<double>& coordinates, DType dtype) const;

 private:
  std::string function_;
  LogDensity log_density_;
  std::vector<Shape> shapes_;
  DType dtype_;
  std::int64_t size_ = 0;
  std::vector<double> initial_;
};

}  // namespace tether::inference::detail
