// Reductions, and the normalising ops built on them (softmax, log_softmax,
// normalize). A reduction's gradient is broadcast back over the reduced dims.
#include <cmath>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// Runs a reduction kernel; the result keeps the reduced dims (extent 1).
Tensor reduce_kernel(const char* name, backend::ReduceOp op, const Tensor& x, std::uint32_t mask) {
  check_defined(name, x);
  Tensor out = Tensor::empty(reduced_shape(x.shape(), mask, true), x.dtype(), x.device(), name);
  backend_of(x).reduce(op, x, mask, out);
  return out;
}

/// Drops the kept reduced dims unless keepdim (a raw view of a fresh tensor).
Tensor finish_reduction(const Tensor& kept, const Shape& input_shape, std::uint32_t mask,
                        bool keepdim) {
  if (keepdim) return kept;
  const Shape shape = reduced_shape(input_shape, mask, false);
  return Tensor::view_of(kept, shape, contiguous_strides(shape), kept.storage_offset());
}

/// The reduced dims of a mask as a list.
Dims mask_dims(std::uint32_t mask, int rank) {
  Dims dims;
  for (int d = 0; d < rank; ++d)
    if (mask & (1u << d)) dims.push_back(d);
  return dims;
}

/// A reduction's output (or its gradient) broadcast back to the input's shape.
Tensor expand_reduced(const Tensor& reduced, const Shape& input_shape, std::uint32_t mask) {
  return expand(reshape(reduced, reduced_shape(input_shape, mask, true)), input_shape);
}

/// Throws IndexError naming `op` when a reduced dim of x is empty while the
/// result is not: the maximum (or minimum) of no elements is undefined.
void check_nonempty_reduction(const char* op, const Tensor& x, std::uint32_t mask) {
  if (x.numel() != 0 || reduced_shape(x.shape(), mask, true).numel() == 0) return;
  for (int d = 0; d < x.dim(); ++d)
    if ((mask & (1u << d)) && x.shape()[d] == 0)
      fail<IndexError>(op, ": cannot reduce over dimension ", d, " of shape ", x.shape(),
                       ", which is empty (the extreme of no elements is undefined)");
}

/// amax / amin. The gradient is shared equally among the extreme elements.
Tensor extremum(const char* name, backend::ReduceOp op, const Tensor& x, const Dims& dims,
                bool keepdim) {
  const std::uint32_t mask = reduce_mask(name, x, dims);
  check_nonempty_reduction(name, x, mask);
  Tensor out = finish_reduction(reduce_kernel(name, op, x, mask), x.shape(), mask, keepdim);
  return record(name, {x}, out, {x, out},
                [mask, shape = x.shape()](Node& n, const Tensor& g) -> GradList {
                  const Tensor hit = eq(n.saved(0), expand_reduced(n.saved(1), shape, mask));
                  const Tensor count = sum(hit, mask_dims(mask, shape.size()), true);
                  return {hit * expand_reduced(g, shape, mask) / count};
                });
}

/// argmax or argmin (`kernel`) of x along dim: i64, no gradient.
Tensor arg_extreme(const char* name,
                   void (backend::Backend::*kernel)(const Tensor&, int, const Tensor&),
                   const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined(name, x);
  check_not_bool(name, x);
  const int d = wrap_dim(name, dim, x.dim());
  // A 0-d x is its own one slice, and its index 0 (as PyTorch's).
  if (x.dim() == 0)
    return reshape(arg_extreme(name, kernel, reshape(x.detach(), {1}), 0, false), {});
  const std::uint32_t mask = 1u << d;
  check_nonempty_reduction(name, x, mask);
  Tensor out = Tensor::empty(reduced_shape(x.shape(), mask, true), DType::i64, x.device(), name);
  (backend_of(x).*kernel)(x, d, out);
  return finish_reduction(out, x.shape(), mask, keepdim);
}

/// The maximum of x over dims (kept): the shift that keeps exp from
/// overflowing in softmax, log_softmax and logsumexp. An empty x has nothing
/// to shift (and no maximum), so its shift is 0, and the result is what torch
/// gives: empty for softmax, -inf (log 0) for logsumexp.
Tensor exp_shift(const Tensor& x, const Dims& dims) {
  return x.numel() == 0 ? zeros({}, x.options()) : amax(x, dims, true);
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  const std::uint32_t mask = reduce_mask("sum", x, dims);
  // A mask's sum counts its true elements, in i64 (as PyTorch's).
  const Tensor input = x.dtype() == DType::boolean ? to(x, DType::i64) : x;
  Tensor out = finish_reduction(reduce_kernel("sum", backend::ReduceOp::sum, input, mask),
                                x.shape(), mask, keepdim);
  return record("sum", {x}, out, {}, [mask, shape = x.shape()](Node&, const Tensor& g) -> GradList {
    return {expand_reduced(g, shape, mask)};
  });
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  check_floating("mean", x);
  const std::uint32_t mask = reduce_mask("mean", x, dims);
  Tensor total = reduce_kernel("mean", backend::ReduceOp::sum, x, mask);
  // One over the number of elements averaged; scaled in place, as the sum is fresh.
  const double scale = static_cast<double>(total.numel()) / static_cast<double>(x.numel());
  backend_of(x).unary(backend::UnaryOp::affine, total, total, {scale, 0.0});
  Tensor out = finish_reduction(total, x.shape(), mask, keepdim);
  return record("mean", {x}, out, {},
                [mask, scale, shape = x.shape()](Node&, const Tensor& g) -> GradList {
                  return {expand_reduced(g * scale, shape, mask)};
                });
}

Tensor var(const Tensor& x, const Dims& dims, std::int64_t correction, bool keepdim) {
  check_floating("var", x);
  const std::uint32_t mask = reduce_mask("var", x, dims);
  const Shape kept = reduced_shape(x.shape(), mask, true);
  const double count = static_cast<double>(x.numel()) / static_cast<double>(kept.numel());
  const double scale = 1.0 / std::max(count - correction, 0.0);
  Tensor out;
  {
    NoGradGuard no_grad;
    const Tensor centered = x - mean(x, dims, true);
    out = sum(centered * centered, dims, keepdim) * scale;
  }
  // 2 (x - mean) / (N - correction), without the mean's own term, which sums
  // to zero (as PyTorch's var_backward): through it one infinite element
  // would make every gradient of its slice NaN.
  return record(
      "var", {x}, out, {x},
      [mask, dims, scale, shape = x.shape()](Node& n, const Tensor& g) -> GradList {
        const Tensor x = n.saved(0);
        return {expand_reduced(g, shape, mask) * (x - mean(x, dims, true)) * (2.0 * scale)};
      });
}

Tensor amax(const Tensor& x, const Dims& dims, bool keepdim) {
  return extremum("amax", backend::ReduceOp::max, x, dims, keepdim);
}

Tensor amin(const Tensor& x, const Dims& dims, bool keepdim) {
  return extremum("amin", backend::ReduceOp::min, x, dims, keepdim);
}

Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
  check_floating("logsumexp", x);
  // Shift by the (constant) maximum so exp cannot overflow; an all -inf slice
  // is shifted by 0 instead so that it yields -inf rather than NaN.
  Tensor shift = exp_shift(x, dims).detach();
  shift = where(abs(shift) < INFINITY, shift, zeros_like(shift));
  Tensor out = log(sum(exp(x - shift), dims, true)) + shift;
  return keepdim ? out
                 : reshape(out, reduced_shape(x.shape(), reduce_mask("logsumexp", x, dims), false));
}

Tensor norm(const Tensor& x, const Dims& dims, bool keepdim) {
  check_floating("norm", x);
  const std::uint32_t mask = reduce_mask("norm", x, dims);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = sum(x * x, dims, keepdim);
    backend_of(out).unary(backend::UnaryOp::sqrt, out, out, {});  // in place: the sum is fresh
  }
  // d||x||/dx = x / ||x||, taken as 0 where ||x|| = 0 (a subgradient); a NaN
  // norm stays NaN for the whole slice, as in PyTorch.
  return record("norm", {x}, out, {x, out},
                [mask, shape = x.shape()](Node& n, const Tensor& g) -> GradList {
                  const Tensor norm = expand_reduced(n.saved(1), shape, mask);
                  const Tensor scale = expand_reduced(g, shape, mask) / norm;
                  return {n.saved(0) * where(eq(norm, zeros_like(norm)), zeros_like(scale), scale)};
                });
}

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_extreme("argmax", &backend::Backend::argmax, x, dim, keepdim);
}

Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_extreme("argmin", &backend::Backend::argmin, x, dim, keepdim);
}

Tensor softmax(const Tensor& x, std::int64_t dim) {
  check_floating("softmax", x);
  const std::int64_t d = wrap_dim("softmax", dim, x.dim());
  Tensor out;
  {
    NoGradGuard no_grad;
    const Tensor e = exp(x - exp_shift(x, {d}));
    out = e / sum(e, {d}, true);
  }
  return record("softmax", {x}, out, {out}, [d](Node& n, const Tensor& g) -> GradList {
    const Tensor y = n.saved(0);
    return {y * (g - sum(g * y, {d}, true))};
  });
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  check_floating("log_softmax", x);
  const std::int64_t d = wrap_dim("log_softmax", dim, x.dim());
  Tensor out;
  {
    NoGradGuard no_grad;
    const Tensor shifted = x - exp_shift(x, {d});
    out = shifted - log(sum(exp(shifted), {d}, true));
  }
  return record("log_softmax", {x}, out, {out}, [d](Node& n, const Tensor& g) -> GradList {
    return {g - exp(n.saved(0)) * sum(g, {d}, true)};
  });
}

Tensor normalize(const Tensor& x, std::int64_t dim, double eps) {
  check_floating("normalize", x);
  return x / clamp(norm(x, {dim}, true), eps, std::nullopt);
}

Tensor sum_to_shape(const Tensor& grad, const Shape& shape) {
  check_defined("sum_to_shape", grad);
  if (grad.shape() == shape) return grad;
  const int leading = grad.dim() - shape.size();
  if (leading < 0)
    fail<ShapeError>("sum_to_shape: cannot sum a tensor of shape ", grad.shape(), " to ", shape);
  Dims dims;
  for (int d = 0; d < grad.dim(); ++d) {
    if (d < leading) {
      dims.push_back(d);
    } else if (shape[d - leading] == 1 && grad.shape()[d] != 1) {
      dims.push_back(d);
    } else if (shape[d - leading] != grad.shape()[d]) {
      fail<ShapeError>("sum_to_shape: cannot sum a tensor of shape ", grad.shape(), " to ", shape);
    }
  }
  return reshape(sum(grad, dims, true), shape);
}

}  // namespace tether
