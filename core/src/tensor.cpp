#include "tether/tensor.h"

#include <utility>

#include "tether/error.h"
#include "tether/pool.h"
#include "tether/release.h"

namespace tether {

TensorImpl::~TensorImpl() {
  if (grad_fn) detail::release_iteratively(std::move(grad_fn));
}

namespace detail {

void fail_undefined(const char* op) {
  fail<ValueError>(op, ": expected a defined tensor, got an undefined one");
}

}  // namespace detail

namespace {

/// The bytes of a contiguous `shape` of `dtype`, checked for overflow.
std::size_t checked_nbytes(const char* op, const Shape& shape, DType dtype) {
  const std::int64_t numel = checked_numel(op, shape);
  std::int64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<std::int64_t>(element_size(dtype)), &nbytes))
    fail<ShapeError>(op, ": shape ", shape, " of ", dtype,
                     " has more bytes than a 64-bit count can hold");
  return static_cast<std::size_t>(nbytes);
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, const char* op) {
  const std::size_t nbytes = checked_nbytes(op, shape, dtype);
  std::shared_ptr<Storage> storage;
  try {
    storage = detail::make_pooled<Storage>(nbytes, device);
  } catch (const OutOfMemoryError& e) {
    // The allocator knows the bytes; the user knows the op and the shape.
    fail<OutOfMemoryError>(op, ": shape ", shape, " of ", dtype, ": ", e.what());
  }
  return Tensor(detail::make_pooled<TensorImpl>(shape, contiguous_strides(shape), 0, dtype,
                                                std::move(storage)));
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype,
                         std::function<void(void*)> deleter, const char* op) {
  const std::size_t nbytes = checked_nbytes(op, shape, dtype);
  if (data == nullptr && nbytes > 0)
    fail<ValueError>(op, ": expected a pointer to the data of shape ", shape, ", got null");
  auto storage = detail::make_pooled<Storage>(data, nbytes, Device::cpu(), std::move(deleter));
  return Tensor(detail::make_pooled<TensorImpl>(shape, contiguous_strides(shape), 0, dtype,
                                                std::move(storage)));
}

Tensor Tensor::view_of(const Tensor& base, const Shape& shape, const Strides& strides,
                       std::int64_t offset, const char* op) {
  check_defined(op, base);
  checked_numel(op, shape);
  return Tensor(
      detail::make_pooled<TensorImpl>(shape, strides, offset, base.dtype(), base.storage()));
}

std::int64_t Tensor::stride(std::int64_t d) const {
  const Strides& steps = state("stride").strides;
  return steps[wrap_dim("stride", d, steps.size())];
}

bool Tensor::is_contiguous() const {
  check_defined("is_contiguous", *this);
  // Unsigned, as contiguous_strides (shape.h) computes them: the strides of a
  // tensor without elements can wrap ([0, 2^63 - 1, 2]).
  std::uint64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (static_cast<std::uint64_t>(strides()[i]) != expected) return false;
    expected *= static_cast<std::uint64_t>(shape()[i]);
  }
  return true;
}

void Tensor::wrong_dtype(DType requested) const {
  fail<DTypeError>("data_ptr: tensor has dtype ", dtype(), ", requested ", requested);
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  check_defined("requires_grad_", *this);
  if (requires_grad && !is_floating_point())
    fail<DTypeError>("requires_grad_: only floating-point tensors can require grad, got ", dtype());
  if (!is_leaf())
    fail<AutogradError>("requires_grad_: only leaf tensors can change requires_grad; use detach()");
  impl_->requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  return Tensor(state("grad").grad);
}

void Tensor::set_grad(const Tensor& grad) const {
  check_defined("set_grad", *this);
  if (grad.defined() && !(grad.shape() == shape()))
    fail<ShapeError>("set_grad: gradient of shape ", grad.shape(), " for a tensor of shape ",
                     shape());
  impl_->grad = grad.impl_ptr();
}

}  // namespace tether
