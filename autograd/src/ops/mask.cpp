// Masks: the ops that make bool tensors (isnan, the logical ops, any, all)
// and those that take them (masked_fill, masked_select). The comparisons and
// where are element-wise ops (elementwise.cpp). Nothing here needs a kernel
// of its own: the predicates are binary kernels, any/all are the max/min
// reductions of a bool tensor, masked_fill is where, masked_select an
// index_select, so the gradients come from those ops.
#include <algorithm>
#include <cmath>
#include <vector>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// A 0-d tensor of `value` in x's dtype, on x's device.
Tensor scalar_of(const Tensor& x, double value) {
  return full({}, value, x.options());
}

/// A bool tensor of x's shape holding `value`: a test with a known answer.
Tensor constant_mask(const Tensor& x, bool value) {
  return full(x.shape(), value ? 1.0 : 0.0, TensorOptions(DType::boolean).with_device(x.device()));
}

/// |x| compared with +inf by `op`, unrecorded: isinf (eq) and isfinite (lt,
/// which is false for NaN too).
Tensor compare_magnitude_with_infinity(const char* name, BinaryOp op, const Tensor& x) {
  return binary_kernel(name, op, unary_kernel(name, UnaryOp::abs, x), scalar_of(x, INFINITY));
}

/// Throws DTypeError naming `op` unless `mask` is a bool tensor.
void check_mask(const char* op, const Tensor& mask) {
  check_defined(op, mask);
  if (mask.dtype() != DType::boolean)
    fail<DTypeError>(op, ": expected a bool mask, got ", mask.dtype(),
                     " (make one with a comparison, e.g. x > 0, or .to(DType::boolean))");
}

/// Throws DTypeError naming `op` and its `symbol` unless both operands are bool tensors.
void check_bool_operands(const char* op, const char* symbol, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  if (a.dtype() != DType::boolean || b.dtype() != DType::boolean)
    fail<DTypeError>(op, ": operator", symbol, " expects bool tensors, got ", a.dtype(), " and ",
                     b.dtype(), " (tether has no bitwise integer ops; ", op,
                     " itself takes any dtype)");
}

/// any (the max of the truth values) or all (their min) over dims.
Tensor truth_reduction(const char* name, backend::ReduceOp op, const Tensor& x, const Dims& dims,
                       bool keepdim) {
  const std::uint32_t mask = reduce_mask(name, x, dims);
  const Tensor truth = to(x, DType::boolean);
  Tensor out =
      Tensor::empty(reduced_shape(x.shape(), mask, true), DType::boolean, x.device(), name);
  backend_of(x).reduce(op, truth, mask, out);
  return keepdim ? out : reshape(out, reduced_shape(x.shape(), mask, false));
}

}  // namespace

Tensor isnan(const Tensor& x) {
  check_defined("isnan", x);
  if (!x.is_floating_point()) return constant_mask(x, false);
  return binary_kernel("isnan", BinaryOp::ne, x, x);  // NaN alone differs from itself
}

Tensor isinf(const Tensor& x) {
  check_defined("isinf", x);
  if (!x.is_floating_point()) return constant_mask(x, false);
  return compare_magnitude_with_infinity("isinf", BinaryOp::eq, x);
}

Tensor isfinite(const Tensor& x) {
  check_defined("isfinite", x);
  if (!x.is_floating_point()) return constant_mask(x, true);
  return compare_magnitude_with_infinity("isfinite", BinaryOp::lt, x);
}

Tensor logical_not(const Tensor& x) {
  check_defined("logical_not", x);
  return binary_kernel("logical_not", BinaryOp::eq, x, scalar_of(x, 0.0));
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary_kernel("logical_and", BinaryOp::logical_and, a, b);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary_kernel("logical_or", BinaryOp::logical_or, a, b);
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return binary_kernel("logical_xor", BinaryOp::logical_xor, a, b);
}

Tensor operator~(const Tensor& mask) {
  check_bool_operands("logical_not", "~", mask, mask);
  return logical_not(mask);
}
Tensor operator&(const Tensor& a, const Tensor& b) {
  check_bool_operands("logical_and", "&", a, b);
  return logical_and(a, b);
}
Tensor operator|(const Tensor& a, const Tensor& b) {
  check_bool_operands("logical_or", "|", a, b);
  return logical_or(a, b);
}
Tensor operator^(const Tensor& a, const Tensor& b) {
  check_bool_operands("logical_xor", "^", a, b);
  return logical_xor(a, b);
}

Tensor any(const Tensor& x, const Dims& dims, bool keepdim) {
  return truth_reduction("any", backend::ReduceOp::max, x, dims, keepdim);
}

Tensor all(const Tensor& x, const Dims& dims, bool keepdim) {
  return truth_reduction("all", backend::ReduceOp::min, x, dims, keepdim);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  check_defined("masked_fill", x);
  check_representable("masked_fill", value.to_double(), x.dtype());
  return masked_fill(x, mask, scalar_of(x, value.to_double()));
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value) {
  check_defined("masked_fill", x);
  check_mask("masked_fill", mask);
  check_defined("masked_fill", value);
  check_same_device("masked_fill", x, mask);
  check_same_device("masked_fill", x, value);
  if (value.dim() != 0)
    fail<ShapeError>("masked_fill: expected a 0-d value tensor, got shape ", value.shape());
  if (broadcast_shapes("masked_fill", mask.shape(), x.shape()) != x.shape())
    fail<ShapeError>("masked_fill: the mask of shape ", mask.shape(),
                     " does not broadcast to the input's shape ", x.shape());
  // where's gradient: x's where the mask is false, the sum of the rest for value.
  return where(mask, to(value, x.dtype()), x);
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  check_defined("masked_select", x);
  check_mask("masked_select", mask);
  check_same_device("masked_select", x, mask);
  const Shape shape = broadcast_shapes("masked_select", x.shape(), mask.shape());
  // The positions of the true elements, found on the host: the result's length.
  refuse_in_capture("masked_select (its length is read from the mask on the host)");
  const Tensor truth = contiguous_data(broadcast_view(mask, shape).to(Device::cpu()));
  const bool* const flags = truth.data_ptr<bool>();
  std::vector<std::int64_t> positions;
  for (std::int64_t i = 0; i < truth.numel(); ++i)
    if (flags[i]) positions.push_back(i);
  const std::int64_t count = static_cast<std::int64_t>(positions.size());
  Tensor index = Tensor::empty({count}, DType::i64);
  std::copy(positions.begin(), positions.end(), index.data_ptr<std::int64_t>());
  return index_select(reshape(expand(x, shape), {shape.numel()}), 0, index.to(x.device()));
}

}  // namespace tether
