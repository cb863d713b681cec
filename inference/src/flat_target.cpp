#include "flat_target.h"

#include <cmath>
#include <utility>

#include "tether/autograd.h"
#include "tether/error.h"
#include "tether/ops.h"

namespace tether::inference::detail {

FlatTarget::FlatTarget(std::string function, LogDensity log_density,
                       const std::vector<Tensor>& initial)
    : function_(std::move(function)), log_density_(std::move(log_density)) {
  if (!log_density_) fail<ValueError>(function_, ": log_density is empty");
  if (initial.empty()) fail<ValueError>(function_, ": the initial point has no tensors");
  for (std::size_t i = 0; i < initial.size(); ++i) {
    if (!initial[i].defined()) fail<ValueError>(function_, ": initial tensor ", i, " is undefined");
    if (!initial[i].is_floating_point())
      fail<DTypeError>(function_, ": initial tensors must be floating, got ", initial[i].dtype(),
                       " for tensor ", i);
    if (initial[i].dtype() != initial[0].dtype())
      fail<DTypeError>(function_, ": initial tensors must share one dtype, got ",
                       initial[0].dtype(), " and ", initial[i].dtype(), " (tensor ", i, ")");
    shapes_.push_back(initial[i].shape());
    const std::vector<double> values = initial[i].to_vector<double>();
    initial_.insert(initial_.end(), values.begin(), values.end());
  }
  dtype_ = initial[0].dtype();
  size_ = static_cast<std::int64_t>(initial_.size());
}

Tensor FlatTarget::flat(const std::vector<double>& coordinates) const {
  return tensor(coordinates, {size_}, dtype_);
}

std::vector<Tensor> FlatTarget::unflatten(const Tensor& flat) const {
  std::vector<Tensor> inputs;
  std::int64_t offset = 0;
  for (const Shape& shape : shapes_) {
    const std::int64_t count = shape.numel();
    inputs.push_back(flat.narrow(0, offset, count).reshape(shape));
    offset += count;
  }
  return inputs;
}

Tensor FlatTarget::log_density(const Tensor& flat) const {
  Tensor value = log_density_(unflatten(flat));
  if (!value.defined()) fail<ValueError>(function_, ": log_density returned an undefined tensor");
  if (value.numel() != 1)
    fail<ShapeError>(function_, ": log_density must return one element, got shape ", value.shape());
  return value.reshape({});
}

double FlatTarget::value_and_gradient(const std::vector<double>& coordinates,
                                      std::vector<double>& gradient) const {
  Tensor x = flat(coordinates).requires_grad_();
  const Tensor value = log_density(x);
  gradient.assign(coordinates.size(), 0.0);
  // A density that ignores its inputs (or a part of them) has zero gradient there.
  if (value.requires_grad()) {
    const Tensor g = autograd::grad({value}, {x}, {}, std::nullopt, false, true)[0];
    if (g.defined()) gradient = g.to_vector<double>();
  }
  return value.item<double>();
}

void FlatTarget::check_initial_value(double value) const {
  if (!std::isfinite(value))
    fail<ValueError>(function_, ": log_density at the initial point is ",
                     std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf"),
                     "; start where the density is positive and finite");
}

std::vector<Tensor> FlatTarget::stack_rows(const std::vector<double>& rows, std::int64_t num_rows,
                                           DType dtype) const {
  const Tensor all = tensor(rows, {num_rows, size_}, dtype);
  std::vector<Tensor> stacked;
  std::int64_t offset = 0;
  for (const Shape& shape : shapes_) {
    const std::int64_t count = shape.numel();
    Shape with_rows = shape;
    with_rows.insert(0, num_rows);
    stacked.push_back(all.narrow(1, offset, count).reshape(with_rows).contiguous());
    offset += count;
  }
  return stacked;
}

std::vector<Tensor> FlatTarget::split(const std::vector<double>& coordinates, DType dtype) const {
  std::vector<Tensor> inputs = stack_rows(coordinates, 1, dtype);
  for (Tensor& input : inputs) input = input.squeeze(0);
  return inputs;
}

}  // namespace tether::inference::detail
