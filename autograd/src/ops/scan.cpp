// Scans (cumsum, cumprod) and the layout ops that move elements rather than
// view them (flip, roll, repeat). The scans have a kernel of their own; flip
// and roll run existing kernels (index_select, cat's copies) under
// NoGradGuard and record one node each, whose backward is the same op undone;
// repeat is composed of index_select, so its gradient sums the copies.
#include "op_util.h"
#include "tether/grad_mode.h"

namespace tether {

using namespace ops;

namespace {

/// The scan of x along dim (wrapped; x has at least one dim), unrecorded.
Tensor scan_kernel(const char* op, backend::ScanOp kind, const Tensor& x, int dim,
                   bool reverse = false) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device(), op);
  backend_of(x).scan(kind, x, dim, reverse, out);
  return out;
}

/// cumsum along dim (wrapped), or from the end when `reverse`: each is the
/// other's backward.
Tensor cumulative_sum(const Tensor& x, int dim, bool reverse) {
  const char* name = reverse ? "reverse_cumsum" : "cumsum";
  Tensor out = scan_kernel(name, backend::ScanOp::sum, x, dim, reverse);
  return record(name, {x}, out, {}, [dim, reverse](Node&, const Tensor& g) -> GradList {
    return {cumulative_sum(g, dim, !reverse)};
  });
}

/// out_k = g_k + ... + g_{n-1} along dim: the backward of cumsum.
Tensor reverse_cumsum(const Tensor& g, int dim) {
  return cumulative_sum(g, dim, true);
}

// The gradient of y = cumprod(x) is dx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j.
// Where x_k is not 0 the product is y_i / x_k, and dx is reverse_cumsum(g y) / x.
// That division fails at zeros, so the first-order backward splits each line
// at its first zero z: before z the division is safe; at z the products skip
// x_z, which is the cumprod of x with a 1 at z; after z every product holds
// x_z = 0. Its values are exact, but it is piecewise in the zeros' positions,
// so its derivative at a zero is not the second derivative: when the backward
// is recorded, it runs the quadratic form below instead.
Tensor cumprod_backward_first_order(const Tensor& x, const Tensor& y, const Tensor& g, int dim) {
  const Tensor zero = scalar_tensor(0.0, x.options()), one = scalar_tensor(1.0, x.options());
  const Tensor is_zero = eq(x, zero);
  const Tensor zeros_so_far = cumsum(is_zero.to(x.dtype()), dim);
  const Tensor before_zeros = eq(zeros_so_far, zero);
  const Tensor first_zero = logical_and(is_zero, eq(zeros_so_far, one));
  const Tensor divided = reverse_cumsum(g * y, dim) / where(before_zeros, x, one);
  const Tensor at_zero = reverse_cumsum(g * cumprod(where(first_zero, one, x), dim), dim);
  return where(before_zeros, divided, where(first_zero, at_zero, zero));
}

/// The same gradient as a polynomial in x, so that its own derivative is
/// right at zeros too: row k of an n x n matrix is the line with x_k replaced
/// by 1, whose cumprod holds prod_{j <= i, j != k} x_j at i; the upper
/// triangle (i >= k) weighted by g sums to dx_k.
Tensor cumprod_backward_differentiable(const Tensor& x, const Tensor& g, int dim) {
  const Tensor line = transpose(x, dim, -1);
  const std::int64_t n = line.size(-1);
  const Tensor diagonal = eye(n, std::nullopt, x.options()).to(DType::boolean);
  const Tensor skipping = where(diagonal, scalar_tensor(1.0, x.options()), unsqueeze(line, -2));
  const Tensor weighted = triu(cumprod(skipping, -1) * unsqueeze(transpose(g, dim, -1), -2));
  return transpose(sum(weighted, {-1}), dim, -1);
}

/// x with its elements reversed along dim, unrecorded.
Tensor reversed(const Tensor& x, int dim) {
  const std::int64_t n = x.shape()[dim];
  const Tensor index = arange(n - 1, -1, -1, TensorOptions(DType::i64).with_device(x.device()));
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device(), "flip");
  backend_of(x).index_select(x, dim, index, out);
  return out;
}

/// x rolled by `shift` (0 <= shift <= its extent) along dim, unrecorded: the
/// last `shift` elements, then the others.
Tensor rolled(const Tensor& x, int dim, std::int64_t shift) {
  const std::int64_t n = x.shape()[dim];
  NoGradGuard no_grad;
  return cat({narrow(x, dim, n - shift, shift), narrow(x, dim, 0, n - shift)}, dim);
}

/// A copy of x, unrecorded.
Tensor copied(const Tensor& x) {
  NoGradGuard no_grad;
  return clone(x);
}

/// dims wrapped, each at most once; `op` names the caller.
Dims distinct_dims(const char* op, const Tensor& x, const Dims& dims) {
  Dims wrapped;
  std::uint32_t seen = 0;
  for (auto dim : dims) {
    const int d = wrap_dim(op, dim, x.dim());
    if (seen >> d & 1) fail<ValueError>(op, ": dim ", d, " appears more than once in ", dims);
    seen |= 1u << d;
    wrapped.push_back(d);
  }
  return wrapped;
}

/// A 0-d x as one element along its one dim: f(reshape(x, {1})) reshaped
/// back, after checking `dim` as PyTorch does (0 or -1).
template <class F>
Tensor on_one_element(const char* op, const Tensor& x, std::int64_t dim, F&& f) {
  wrap_dim(op, dim, 0);
  return reshape(f(reshape(x, {1})), {});
}

}  // namespace

Tensor cumsum(const Tensor& x, std::int64_t dim) {
  check_defined("cumsum", x);
  if (x.dim() == 0)
    return on_one_element("cumsum", x, dim, [](const Tensor& v) { return cumsum(v, 0); });
  return cumulative_sum(x, wrap_dim("cumsum", dim, x.dim()), false);
}

Tensor cumprod(const Tensor& x, std::int64_t dim) {
  check_defined("cumprod", x);
  if (x.dim() == 0)
    return on_one_element("cumprod", x, dim, [](const Tensor& v) { return cumprod(v, 0); });
  const int d = wrap_dim("cumprod", dim, x.dim());
  Tensor out = scan_kernel("cumprod", backend::ScanOp::prod, x, d);
  return record("cumprod", {x}, out, {x, out}, [d](Node& n, const Tensor& g) -> GradList {
    if (g.numel() == 0) return {g};
    // Grad mode is on in a backward exactly when it is recorded (create_graph).
    if (is_grad_enabled()) return {cumprod_backward_differentiable(n.saved(0), g, d)};
    return {cumprod_backward_first_order(n.saved(0), n.saved(1), g, d)};
  });
}

Tensor flip(const Tensor& x, const Dims& dims) {
  check_defined("flip", x);
  const Dims wrapped = distinct_dims("flip", x, dims);
  Tensor out = x;
  if (x.numel() > 1)  // else there is nothing to reverse (and an extent may be huge)
    for (auto d : wrapped) out = reversed(out, d);
  if (out.is_same(x)) out = copied(x);
  return record("flip", {x}, out, {},
                [wrapped](Node&, const Tensor& g) -> GradList { return {flip(g, wrapped)}; });
}

Tensor roll(const Tensor& x, const Dims& shifts, const Dims& dims) {
  check_defined("roll", x);
  if (shifts.size() != dims.size() && !(dims.size() == 0 && shifts.size() == 1))
    fail<ValueError>("roll: expected one shift per dim, got shifts ", shifts, " and dims ", dims);
  if (dims.size() == 0) return reshape(roll(flatten(x), shifts, {0}), x.shape());
  if (x.dim() == 0) fail<IndexError>("roll: a 0-d tensor has no dim ", dims[0], " to roll along");
  // A dim may repeat: its shifts add up, as in PyTorch. Each shift is taken
  // modulo the extent into [0, n), so that negating it cannot overflow.
  Dims wrapped, back;
  Tensor out = x;
  for (int i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim("roll", dims[i], x.dim());
    const std::int64_t n = x.shape()[d];
    std::int64_t shift = n == 0 ? 0 : shifts[i] % n;
    if (shift < 0) shift += n;
    out = rolled(out, d, shift);
    wrapped.push_back(d);
    back.push_back(-shift);
  }
  if (out.is_same(x)) out = copied(x);
  return record("roll", {x}, out, {}, [back, wrapped](Node&, const Tensor& g) -> GradList {
    return {roll(g, back, wrapped)};
  });
}

Tensor repeat(const Tensor& x, const Shape& repeats) {
  check_defined("repeat", x);
  if (repeats.size() < x.dim())
    fail<ShapeError>("repeat: expected at least ", x.dim(), " repeats for a tensor of shape ",
                     x.shape(), ", got ", repeats);
  Shape padded = Shape::filled(repeats.size() - x.dim(), 1), result;
  for (auto extent : x.shape()) padded.push_back(extent);
  for (int d = 0; d < repeats.size(); ++d) {
    if (repeats[d] < 0) fail<ValueError>("repeat: negative repeat count in ", repeats);
    std::int64_t extent = 0;
    if (__builtin_mul_overflow(padded[d], repeats[d], &extent))
      fail<ShapeError>("repeat: the extents of ", padded, " repeated ", repeats, " exceed 2^63");
    result.push_back(extent);
  }
  // Without elements the copies are nothing to build (and an extent may be huge).
  if (checked_numel("repeat", result) == 0) return reshape(narrow(flatten(x), 0, 0, 0), result);
  // Along each repeated dim, copy k of the result is rows 0..n-1 again: an
  // index_select whose index is arange(n) tiled.
  const TensorOptions index_options = TensorOptions(DType::i64).with_device(x.device());
  Tensor out = reshape(x, padded);
  bool copied = false;
  for (int d = 0; d < repeats.size(); ++d) {
    if (repeats[d] == 1) continue;
    const Tensor index =
        reshape(expand(reshape(arange(padded[d], index_options), {1, -1}), {repeats[d], -1}), {-1});
    out = index_select(out, d, index);
    copied = true;
  }
  return copied ? out : clone(out);
}

}  // namespace tether
