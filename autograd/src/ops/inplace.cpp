// In-place writes, for optimizers and initialisation. Each bumps the storage's
// version, which is how autograd detects stale saved tensors
// and computed parameters detect stale caches.
#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// Throws DTypeError unless a result computed in `result` may be written into
/// self, as PyTorch's in-place ops: i64 cannot hold a floating result.
void check_castable(const char* name, DType result, const Tensor& self) {
  if (!can_cast(result, self.dtype()))
    fail<DTypeError>(name, ": result type ", result, " can't be cast to the desired output type ",
                     self.dtype(), " (use the out-of-place op, or convert with .to(dtype))");
}

/// `other`, or a copy of it where it shares self's memory in another layout:
/// an element-wise kernel writing self would otherwise read elements it had
/// already written (x[1:] += x[:2]). self itself (x += x) reads each element
/// just before writing it, so it needs no copy.
Tensor read_before_write(const Tensor& self, const Tensor& other) {
  if (other.storage() != self.storage() ||
      (other.storage_offset() == self.storage_offset() && other.shape() == self.shape() &&
       other.strides() == self.strides()))
    return other;
  NoGradGuard no_grad;
  return other.clone();
}

/// self = op(self, other), broadcasting `other` to self's shape, computed in
/// their result type.
Tensor& binary_inplace(const char* name, BinaryOp op, Tensor& self, const Tensor& other) {
  check_inplace(name, self, other);
  check_defined(name, other);
  check_same_device(name, self, other);
  const DType dtype = result_type(self, other);
  check_castable(name, dtype, self);
  if (dtype == DType::boolean) op = boolean_arithmetic(name, op);
  if (!(broadcast_shapes(name, self.shape(), other.shape()) == self.shape()))
    fail<ShapeError>(name, ": cannot broadcast an operand of shape ", other.shape(),
                     " into a tensor of shape ", self.shape());
  const Tensor source = read_before_write(self, other);
  Tensor copy, view;
  const Tensor& operand = broadcast_view(converted_data(source, dtype, copy), self.shape(), view);
  if (self.is_contiguous() && self.dtype() == dtype) {
    backend_of(self).binary(op, self, operand, self);  // element-wise, so aliasing is safe
  } else {
    // f32 += f64 computes in f64 and rounds once, as PyTorch does.
    Tensor self_copy, result = Tensor::empty(self.shape(), dtype, self.device());
    backend_of(self).binary(op, converted_data(self, dtype, self_copy), operand, result);
    backend_of(self).copy(result, self);
  }
  self.storage()->bump_version();
  return self;
}

/// self = scale * self + shift. A floating scalar never changes a floating
/// tensor's dtype, so the only promotion possible (i64 to floating) is refused.
Tensor& affine_inplace(const char* name, Tensor& self, Scalar scale, Scalar shift) {
  check_inplace(name, self);
  check_castable(name, ResultType().add(self).add(scale).add(shift).dtype(), self);
  const backend::UnaryParams params{scale.to_double(), shift.to_double()};
  if (self.is_contiguous()) {
    backend_of(self).unary(UnaryOp::affine, self, self, params);
  } else {
    Tensor result = Tensor::empty(self.shape(), self.dtype(), self.device());
    backend_of(self).unary(UnaryOp::affine, self, result, params);
    backend_of(self).copy(result, self);
  }
  self.storage()->bump_version();
  return self;
}

/// self += alpha * other (or -=), scaling `other` outside the graph.
Tensor& scaled_inplace(const char* name, BinaryOp op, Tensor& self, const Tensor& other,
                       Scalar alpha) {
  if (alpha.to_double() == 1.0) return binary_inplace(name, op, self, other);
  check_inplace(name, self, other);
  check_defined(name, other);
  if (self.is_floating_point() && other.dtype() == self.dtype() && self.is_contiguous() &&
      self.device() == other.device() &&
      broadcast_shapes(name, self.shape(), other.shape()) == self.shape()) {
    // The optimizers' update (p -= lr * grad): one pass, no temporary.
    const double scale = op == BinaryOp::sub ? -alpha.to_double() : alpha.to_double();
    Tensor view;
    backend_of(self).add_scaled(
        self, broadcast_view(read_before_write(self, other), self.shape(), view), scale);
    self.storage()->bump_version();
    return self;
  }
  Tensor scaled;
  {
    NoGradGuard no_grad;
    scaled = other * alpha;
  }
  return binary_inplace(name, op, self, scaled);
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, Scalar alpha) {
  return scaled_inplace("add_", BinaryOp::add, *this, other, alpha);
}

Tensor& Tensor::sub_(const Tensor& other, Scalar alpha) {
  check_not_bool("sub_", other);  // as sub: even where self would hold the difference
  return scaled_inplace("sub_", BinaryOp::sub, *this, other, alpha);
}

Tensor& Tensor::mul_(const Tensor& other) {
  return binary_inplace("mul_", BinaryOp::mul, *this, other);
}
Tensor& Tensor::add_(Scalar value) {
  return affine_inplace("add_", *this, 1, value);
}
Tensor& Tensor::mul_(Scalar value) {
  return affine_inplace("mul_", *this, value, 0);
}
Tensor& Tensor::div_(Scalar value) {
  return affine_inplace("div_", *this, 1.0 / value.to_double(), 0);  // true division
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace("copy_", *this, src);
  check_defined("copy_", src);
  check_same_device("copy_", *this, src);
  if (!(broadcast_shapes("copy_", shape(), src.shape()) == shape()))
    fail<ShapeError>("copy_: cannot copy a tensor of shape ", src.shape(),
                     " into a tensor of shape ", shape());
  backend_of(*this).copy(broadcast_view(read_before_write(*this, src), shape()), *this);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_inplace("fill_", *this);
  check_representable("fill_", value, dtype());
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
