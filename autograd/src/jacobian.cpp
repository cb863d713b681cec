// Jacobians and Hessians, row by row: one vector-Jacobian product per output
// element, seeded with that element's unit vector (reverse mode gives rows).
#include "tether/autograd.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::autograd {

Tensor jacobian(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, bool create_graph) {
  check_defined("jacobian", x);
  if (!x.is_floating_point())
    fail<DTypeError>("jacobian: expected a floating-point input, got ", x.dtype());
  GradModeGuard grad_mode(true);
  // With create_graph the rows stay functions of x itself (for a Hessian, or
  // a loss on the Jacobian); otherwise of a detached copy.
  const Tensor input = create_graph && x.requires_grad() ? x : x.detach().requires_grad_();
  const Tensor y = f(input);
  check_defined("jacobian", y);
  const Tensor flat = reshape(y, {y.numel()});
  std::vector<Tensor> rows;
  rows.reserve(flat.numel());
  for (std::int64_t i = 0; i < flat.numel(); ++i) {
    Tensor row;
    if (flat.requires_grad())
      row = grad({select(flat, 0, i)}, {input}, {}, true, create_graph, true)[0];
    rows.push_back(row.defined() ? row : zeros_like(input));
  }
  Shape shape = y.shape();
  for (std::int64_t extent : x.shape()) shape.push_back(extent);
  if (rows.empty()) return zeros(shape, TensorOptions(x.dtype()).with_device(x.device()));
  const Tensor result = reshape(stack(rows), shape);
  return create_graph ? result : result.detach();
}

Tensor hessian(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  return jacobian(
      [&f](const Tensor& at) {
        const Tensor y = f(at);
        if (y.numel() != 1)
          fail<ShapeError>("hessian: expected a function with one output element, got ", y.shape());
        return grad({y}, {at}, {}, true, true, true)[0];
      },
      x);
}

}  // namespace tether::autograd
