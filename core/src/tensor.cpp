#include "tether/tensor.h"

#include "tether/error.h"
#include "tether/pool.h"
#include "tether/release.h"

namespace tether {

TensorImpl::~TensorImpl() {
  if (grad_fn) detail::release_iteratively(std::move(grad_fn));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (auto d : shape)
    if (d < 0) fail<ShapeError>("empty: negative extent in shape ", shape);
  auto storage = detail::make_pooled<Storage>(
      static_cast<std::size_t>(shape.numel()) * element_size(dtype), device);
  return Tensor(detail::make_pooled<TensorImpl>(shape, contiguous_strides(shape), 0, dtype,
                                                std::move(storage)));
}

Tensor Tensor::view_of(const Tensor& base, const Shape& shape, const Strides& strides,
                       std::int64_t offset) {
  return Tensor(
      detail::make_pooled<TensorImpl>(shape, strides, offset, base.dtype(), base.storage()));
}

std::int64_t Tensor::stride(std::int64_t d) const {
  return strides()[wrap_dim("stride", d, dim())];
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void Tensor::wrong_dtype(DType requested) const {
  fail<DTypeError>("data_ptr: tensor has dtype ", dtype(), ", requested ", requested);
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  if (requires_grad && !is_floating_point())
    fail<DTypeError>("requires_grad_: only floating-point tensors can require grad, got ", dtype());
  if (!is_leaf())
    fail<AutogradError>("requires_grad_: only leaf tensors can change requires_grad; use detach()");
  impl_->requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  return Tensor(impl_->grad);
}

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined() && !(grad.shape() == shape()))
    fail<ShapeError>("set_grad: gradient of shape ", grad.shape(), " for a tensor of shape ",
                     shape());
  impl_->grad = grad.impl_ptr();
}

}  // namespace tether
