// In-place writes, for optimizers and initialisation. Each bumps the storage's
// version, which is how autograd detects stale saved tensors
// and computed parameters detect stale caches.
#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// self = op(self, other), broadcasting `other` to self's shape.
Tensor& binary_inplace(const char* name, BinaryOp op, Tensor& self, const Tensor& other) {
  check_inplace(name, self, other);
  check_defined(name, other);
  check_same_dtype(name, self, other);
  check_same_device(name, self, other);
  if (!(broadcast_shapes(name, self.shape(), other.shape()) == self.shape()))
    fail<ShapeError>(name, ": cannot broadcast an operand of shape ", other.shape(),
                     " into a tensor of shape ", self.shape());
  Tensor view;
  const Tensor& operand = broadcast_view(other, self.shape(), view);
  if (self.is_contiguous()) {
    backend_of(self).binary(op, self, operand, self);  // element-wise, so aliasing is safe
  } else {
    Tensor result = Tensor::empty(self.shape(), self.dtype(), self.device());
    backend_of(self).binary(op, self, operand, result);
    backend_of(self).copy(result, self);
  }
  self.storage()->bump_version();
  return self;
}

/// self = scale * self + shift.
Tensor& affine_inplace(const char* name, Tensor& self, double scale, double shift) {
  check_inplace(name, self);
  if (self.is_contiguous()) {
    backend_of(self).unary(UnaryOp::affine, self, self, {scale, shift});
  } else {
    Tensor result = Tensor::empty(self.shape(), self.dtype(), self.device());
    backend_of(self).unary(UnaryOp::affine, self, result, {scale, shift});
    backend_of(self).copy(result, self);
  }
  self.storage()->bump_version();
  return self;
}

/// self += alpha * other (or -=), scaling `other` outside the graph.
Tensor& scaled_inplace(const char* name, BinaryOp op, Tensor& self, const Tensor& other,
                       double alpha) {
  if (alpha == 1.0) return binary_inplace(name, op, self, other);
  check_inplace(name, self, other);
  check_defined(name, other);
  Tensor scaled;
  {
    NoGradGuard no_grad;
    scaled = other * alpha;
  }
  return binary_inplace(name, op, self, scaled);
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  return scaled_inplace("add_", BinaryOp::add, *this, other, alpha);
}

Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  return scaled_inplace("sub_", BinaryOp::sub, *this, other, alpha);
}

Tensor& Tensor::mul_(const Tensor& other) {
  return binary_inplace("mul_", BinaryOp::mul, *this, other);
}
Tensor& Tensor::add_(double value) {
  return affine_inplace("add_", *this, 1.0, value);
}
Tensor& Tensor::mul_(double value) {
  return affine_inplace("mul_", *this, value, 0.0);
}
Tensor& Tensor::div_(double value) {
  return affine_inplace("div_", *this, 1.0 / value, 0.0);
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace("copy_", *this, src);
  check_defined("copy_", src);
  check_same_device("copy_", *this, src);
  if (!(broadcast_shapes("copy_", shape(), src.shape()) == shape()))
    fail<ShapeError>("copy_: cannot copy a tensor of shape ", src.shape(),
                     " into a tensor of shape ", shape());
  backend_of(*this).copy(broadcast_view(src, shape()), *this);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_inplace("fill_", *this);
  backend_of(*this).fill(*this, value);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::zero_() {
  check_defined("zero_", *this);
  return fill_(0.0);
}

void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, const AdamStep& step) {
  check_floating("adam_step_", param);
  for (const Tensor* t : {&grad, &exp_avg, &exp_avg_sq}) {
    check_defined("adam_step_", *t);
    check_same_dtype("adam_step_", param, *t);
    check_same_device("adam_step_", param, *t);
    if (!(t->shape() == param.shape()))
      fail<ShapeError>("adam_step_: expected tensors of the parameter's shape ", param.shape(),
                       ", got ", t->shape());
  }
  for (const Tensor* t : {&param, &exp_avg, &exp_avg_sq}) {
    check_inplace("adam_step_", *t);
    if (!t->is_contiguous())
      fail<ValueError>("adam_step_: expected contiguous parameter and moments, got strides ",
                       t->strides(), " for shape ", t->shape());
  }
  backend_of(param).adam_step(param, contiguous_data(grad), exp_avg, exp_avg_sq, step);
  for (const Tensor* t : {&param, &exp_avg, &exp_avg_sq}) t->storage()->bump_version();
}

}  // namespace tether
