#include "op_util.h"

#include "tether/grad_mode.h"

namespace tether::ops {

void check_floating(const char* op, const Tensor& x) {
  check_defined(op, x);
  if (!x.is_floating_point())
    fail<DTypeError>(op, ": expected a floating-point tensor (f32 or f64), got ", x.dtype());
}

void check_not_bool(const char* op, const Tensor& x) {
  check_defined(op, x);
  if (x.dtype() == DType::boolean)
    fail<DTypeError>(op,
                     ": not supported for bool tensors (convert the mask with .to(dtype), or "
                     "use the logical ops)");
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  if (a.dtype() != b.dtype())
    fail<DTypeError>(op, ": expected operands of the same dtype, got ", a.dtype(), " and ",
                     b.dtype(), " (convert one with .to(dtype))");
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  if (a.device() != b.device())
    fail<DeviceError>(op, ": expected operands on the same device, got ", a.device(), " and ",
                      b.device(), " (move one with .to(device))");
}

void check_representable(const char* op, double value, DType dtype) {
  // 2^63 is INT64_MAX as a double (an integer Scalar holds one), so it is let
  // through and saturates to INT64_MAX.
  constexpr double bound = 0x1p63;
  if (dtype == DType::i64 && !(value >= -bound && value <= bound))
    fail<ValueError>(op, ": value ", value, " cannot be converted to ", dtype, " without overflow");
}

backend::Backend& backend_of(const Tensor& x) {
  return backend::backend_for(x.device());
}

Tensor broadcast_view(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return Tensor::view_of(x, shape, backend::broadcast_strides("broadcast", x, shape),
                         x.storage_offset());
}

const Tensor& broadcast_view(const Tensor& x, const Shape& shape, Tensor& view) {
  if (x.shape() == shape) return x;
  view = broadcast_view(x, shape);
  return view;
}

std::optional<Strides> view_strides(const Tensor& x, const Shape& shape) {
  if (x.dim() == 0 || x.numel() == 0) return contiguous_strides(shape);
  // Split x's dims, from the right, into chunks whose elements are evenly
  // spaced; each chunk must be covered exactly by a run of the new dims.
  Strides result = Shape::filled(shape.size(), 1);
  int new_dim = shape.size() - 1;
  std::int64_t chunk_stride = x.strides()[x.dim() - 1], chunk_numel = 1, covered = 1;
  for (int d = x.dim() - 1; d >= 0; --d) {
    chunk_numel *= x.shape()[d];
    const bool chunk_ends =
        d == 0 || (x.shape()[d - 1] != 1 && x.strides()[d - 1] != chunk_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (new_dim >= 0 && (covered < chunk_numel || shape[new_dim] == 1)) {
      result[new_dim] = covered * chunk_stride;
      covered *= shape[new_dim--];
    }
    if (covered != chunk_numel) return std::nullopt;
    if (d > 0) {
      chunk_stride = x.strides()[d - 1];
      chunk_numel = covered = 1;
    }
  }
  if (new_dim != -1) return std::nullopt;
  return result;
}

Tensor contiguous_data(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).copy(x, out);
  return out;
}

Shape batch_shape(const Tensor& x) {
  Shape batch = x.shape();
  batch.pop_back();
  batch.pop_back();
  return batch;
}

Shape matrices_shape(const Shape& batch, std::int64_t rows, std::int64_t cols) {
  Shape shape = batch;
  shape.push_back(rows);
  shape.push_back(cols);
  return shape;
}

Tensor as_batched(const Tensor& x, const Shape& batch) {
  const Shape shape = {batch.numel(), x.size(-2), x.size(-1)};
  Tensor expanded = broadcast_view(x, matrices_shape(batch, x.size(-2), x.size(-1)));
  auto strides = view_strides(expanded, shape);
  if (!strides) {
    expanded = contiguous_data(expanded);
    strides = contiguous_strides(shape);
  }
  return Tensor::view_of(expanded, shape, *strides, expanded.storage_offset());
}

const Tensor& converted_data(const Tensor& x, DType dtype, Tensor& copy) {
  if (x.dtype() == dtype) return x;
  copy = Tensor::empty(x.shape(), dtype, x.device());
  backend_of(x).copy(x, copy);
  return copy;
}

namespace {

/// The dtype a unary op computes in for x, following PyTorch on integers and
/// booleans: ops with an integer kernel keep i64 and refuse a mask (abs or
/// relu of one); of the floating-only ones (backend::floating_only), PyTorch
/// refuses both for softplus and leaky_relu and computes the rest (exp, sqrt,
/// ...) in floating point.
DType unary_dtype(const char* name, UnaryOp op, const Tensor& x) {
  if (x.is_floating_point()) return x.dtype();
  if (!backend::floating_only(op)) {
    check_not_bool(name, x);
    return x.dtype();
  }
  if (op == UnaryOp::softplus || op == UnaryOp::leaky_relu) check_floating(name, x);  // throws
  return default_float_dtype;
}

}  // namespace

BinaryOp boolean_arithmetic(const char* name, BinaryOp op) {
  if (backend::is_predicate(op)) return op;
  if (op == BinaryOp::add || op == BinaryOp::maximum) return BinaryOp::logical_or;
  if (op == BinaryOp::mul || op == BinaryOp::minimum) return BinaryOp::logical_and;
  if (op == BinaryOp::sub)
    fail<DTypeError>(name, ": subtraction of two bool tensors is not supported (for the "
                           "difference of masks, use logical_xor; to invert one, logical_not)");
  fail<DTypeError>(name, ": not supported for bool tensors");  // pow; div is never boolean
}

Tensor unary_kernel(const char* name, UnaryOp op, const Tensor& x, backend::UnaryParams params) {
  check_defined(name, x);
  const DType dtype = unary_dtype(name, op, x);
  Tensor out = Tensor::empty(x.shape(), dtype, x.device(), name);
  Tensor copy;
  backend_of(x).unary(op, converted_data(x, dtype, copy), out, params);
  return out;
}

Tensor binary_kernel(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_defined(name, a);
  check_defined(name, b);
  check_same_device(name, a, b);
  const DType common = result_type(a, b);
  const DType dtype = op == BinaryOp::div ? true_division_type(common) : common;
  if (dtype == DType::boolean) op = boolean_arithmetic(name, op);
  const Shape shape =
      a.shape() == b.shape() ? a.shape() : broadcast_shapes(name, a.shape(), b.shape());
  const DType out_dtype = backend::is_predicate(op) ? DType::boolean : dtype;
  Tensor out = Tensor::empty(shape, out_dtype, a.device(), name);
  Tensor a_copy, b_copy, a_view, b_view;
  backend_of(a).binary(op, broadcast_view(converted_data(a, dtype, a_copy), shape, a_view),
                       broadcast_view(converted_data(b, dtype, b_copy), shape, b_view), out);
  return out;
}

std::uint32_t reduce_mask(const char* op, const Tensor& x, const Dims& dims) {
  check_defined(op, x);
  if (dims.empty()) return x.dim() == 0 ? 0u : (1u << x.dim()) - 1;
  std::uint32_t mask = 0;
  for (auto d : dims) {
    const int dim = wrap_dim(op, d, x.dim());
    if (x.dim() == 0) continue;
    if (mask & (1u << dim)) fail<ValueError>(op, ": dimension ", d, " appears twice in ", dims);
    mask |= 1u << dim;
  }
  return mask;
}

Shape reduced_shape(const Shape& shape, std::uint32_t mask, bool keepdim) {
  Shape out;
  for (int i = 0; i < shape.size(); ++i) {
    if (!(mask & (1u << i)))
      out.push_back(shape[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

void check_inplace(const char* op, const Tensor& self, const Tensor& other) {
  check_defined(op, self);
  if (!is_grad_enabled()) return;
  if (self.requires_grad())
    fail<AutogradError>(op, ": in-place write to a tensor that requires grad while grad mode is ",
                        "on (wrap optimizer updates in tether::NoGradGuard)");
  if (other.defined() && other.requires_grad())
    fail<AutogradError>(op, ": in-place write from a tensor that requires grad into one that ",
                        "does not would lose the gradient; use the out-of-place op");
}

}  // namespace tether::ops
