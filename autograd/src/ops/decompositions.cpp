// Decompositions and triangular solves. cholesky and solve_triangular have
// kernels and nodes of their own, with backwards written in these same ops
// (so second derivatives come from the chain rule); cholesky_solve and logdet
// are composed from them. tril, triu and diagonal, which those backwards and
// logdet need, are here too.
#include <algorithm>
#include <cmath>
#include <string>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

void check_matrix(const char* op, const char* name, const Tensor& x) {
  check_defined(op, x);
  if (x.dim() < 2)
    fail<ShapeError>(op, ": expected ", name,
                     " to be a matrix or a batch of them [..., m, n], got ", x.shape());
}

void check_square(const char* op, const char* name, const Tensor& x) {
  check_matrix(op, name, x);
  if (x.size(-1) != x.size(-2))
    fail<ShapeError>(op, ": expected ", name,
                     " to be a square matrix or a batch of them [..., n, n], got ", x.shape());
}

/// The multi-index of element `flat` of a batch, "[1, 0]".
Shape unravel(std::int64_t flat, const Shape& batch) {
  Shape index = batch;
  for (int d = batch.size() - 1; d >= 0; --d) {
    index[d] = flat % batch[d];
    flat /= batch[d];
  }
  return index;
}

/// The triangle of x that a triangular solve reads: upper or lower, without
/// the diagonal when it is taken as ones.
Tensor solved_triangle(const Tensor& x, bool upper, bool unitriangular) {
  return upper ? triu(x, unitriangular ? 1 : 0) : tril(x, unitriangular ? -1 : 0);
}

/// Where col - row <= diagonal (lower) or >= diagonal (!lower), as a bool mask
/// [rows, cols] on x's device.
Tensor triangle_mask(const Tensor& x, std::int64_t diagonal, bool lower) {
  const TensorOptions options = TensorOptions(DType::i64).with_device(x.device());
  const Tensor rows = arange(x.size(-2), options).reshape({-1, 1});
  const Tensor offset = arange(x.size(-1), options) - rows;
  return lower ? offset <= diagonal : offset >= diagonal;
}

/// x's diagonal `offset` as a view, unrecorded.
Tensor diagonal_view(const Tensor& x, std::int64_t offset) {
  const int row = x.dim() - 2, col = x.dim() - 1;
  const std::int64_t rows = x.shape()[row], cols = x.shape()[col];
  const std::int64_t length = std::max<std::int64_t>(
      0, offset >= 0 ? std::min(rows, cols - offset) : std::min(rows + offset, cols));
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape.pop_back();
  strides.pop_back();
  shape.back() = length;
  // A view without elements addresses nothing, and the strides of a tensor
  // without elements may sum beyond int64 ([0, 0, 2^63 - 1]): it starts at 0
  // and steps by 1.
  const bool empty = length == 0 || x.numel() == 0;
  strides.back() = empty ? 1 : x.strides()[row] + x.strides()[col];
  const std::int64_t start = empty         ? 0
                             : offset >= 0 ? offset * x.strides()[col]
                                           : -offset * x.strides()[row];
  return Tensor::view_of(x, shape, strides, x.storage_offset() + start);
}

/// The gradient of diagonal: `g` on the diagonal `offset` of zeros of `shape`.
Tensor diagonal_backward(const Tensor& g, const Shape& shape, std::int64_t offset) {
  Tensor out = zeros(shape, g.options());
  backend_of(g).copy(g, diagonal_view(out, offset));
  return record("diagonal_backward", {g}, out, {},
                [offset](Node&, const Tensor& gg) -> GradList { return {diagonal(gg, offset)}; });
}

/// The gradient of a from that of its lower Cholesky factor l, with a
/// symmetric (Murray 2016, "Differentiation of the Cholesky decomposition";
/// PyTorch's cholesky_backward): g_a = L^-T Phi(L^T g_L) L^-1, where Phi keeps
/// the lower triangle and halves the diagonal, made symmetric by splitting the
/// strictly lower part between both triangles.
Tensor cholesky_backward(const Tensor& l, const Tensor& g) {
  const Tensor lower = tril(matmul(l.mT(), g));
  const Tensor symmetric = (lower + tril(lower, -1).mT()) * 0.5;
  const Tensor left = solve_triangular(l.mT(), symmetric, /*upper=*/true);
  return solve_triangular(l, left, /*upper=*/false, /*left=*/false);
}

/// Throws LinAlgError naming `op` and the first NaN in the lower triangle (the
/// part cholesky reads) of matrix `flat` of `matrices` [B, n, n], if it has one:
/// a NaN, not the matrix, is then why the factorization failed.
void check_no_nan(const char* op, const Tensor& matrices, std::int64_t flat, const Shape& batch) {
  const std::int64_t n = matrices.size(-1);
  const std::vector<double> values = matrices.detach().select(0, flat).to_vector<double>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j <= i; ++j)
      if (std::isnan(values[i * n + j])) {
        Shape index = unravel(flat, batch);
        index.push_back(i);
        index.push_back(j);
        fail<LinAlgError>(op, ": the input's element ", index,
                          " is NaN, so the input has no Cholesky factorization");
      }
}

/// The lower Cholesky factor of a, for the op named `op` (its errors say so).
Tensor lower_cholesky(const char* op, const Tensor& a) {
  check_square(op, "the input", a);
  check_floating(op, a);
  const Shape batch = batch_shape(a);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device(), op);
  const Tensor matrices = as_batched(a, batch);
  if (const auto failure = backend_of(a).cholesky(matrices, as_batched(out, batch))) {
    check_no_nan(op, matrices, failure->batch, batch);
    fail<LinAlgError>(op, ": ",
                      batch.empty()
                          ? std::string()
                          : detail::concat("batch element ", unravel(failure->batch, batch), ": "),
                      "the factorization could not be completed because the input is not "
                      "positive-definite (the leading minor of order ",
                      failure->order, " is not positive-definite)");
  }
  return record("cholesky", {a}, out, {out}, [](Node& node, const Tensor& g) -> GradList {
    return {cholesky_backward(node.saved(0), g)};
  });
}

/// Checks a triangular system: a square, b [..., n, k] (left) or [..., k, n],
/// one dtype and device.
void check_system(const char* op, const char* a_name, const Tensor& a, const char* b_name,
                  const Tensor& b, bool left) {
  check_square(op, a_name, a);
  check_matrix(op, b_name, b);
  check_floating(op, a);
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
  if (b.size(left ? -2 : -1) != a.size(-1))
    fail<ShapeError>(op, ": ", a_name, " ", a.shape(), " and ", b_name, " ", b.shape(),
                     " do not match: ", b_name, " needs ", a.size(-1), left ? " rows" : " columns");
}

}  // namespace

Tensor cholesky(const Tensor& a, bool upper) {
  const Tensor l = lower_cholesky("cholesky", a);
  return upper ? contiguous(l.mT()) : l;
}

Tensor solve_triangular(const Tensor& a, const Tensor& b, bool upper, bool left,
                        bool unitriangular) {
  check_system("solve_triangular", "A", a, "B", b, left);
  const Shape batch = broadcast_shapes("solve_triangular", batch_shape(a), batch_shape(b));
  Tensor out = Tensor::empty(matrices_shape(batch, b.size(-2), b.size(-1)), a.dtype(), a.device(),
                             "solve_triangular");
  backend_of(a).solve_triangular(as_batched(a, batch), as_batched(b, batch), as_batched(out, batch),
                                 {.upper = upper, .left = left, .unitriangular = unitriangular});
  // With X = A^-1 B: g_B = A^-T g_X, and g_A = -g_B X^T restricted to the
  // triangle that was read (X A = B: g_B = g_X A^-T, g_A = -X^T g_B).
  return record("solve_triangular", {a, b}, out, {a, out},
                [upper, left, unitriangular, sa = a.shape(), sb = b.shape()](
                    Node& node, const Tensor& g) -> GradList {
                  const Tensor &a = node.saved(0), &x = node.saved(1);
                  const Tensor grad_b = solve_triangular(a.mT(), g, !upper, left, unitriangular);
                  Tensor grad_a;
                  if (node.needs_grad(0)) {
                    const Tensor product = left ? matmul(grad_b, x.mT()) : matmul(x.mT(), grad_b);
                    grad_a = sum_to_shape(-solved_triangle(product, upper, unitriangular), sa);
                  }
                  return {grad_a, node.needs_grad(1) ? sum_to_shape(grad_b, sb) : Tensor()};
                });
}

// (L L^T) X = B as L Y = B, then L^T X = Y (U^T Y = B, then U X = Y).
Tensor cholesky_solve(const Tensor& b, const Tensor& l, bool upper) {
  check_system("cholesky_solve", "the factor", l, "B", b, /*left=*/true);
  const Tensor lower = upper ? l.mT() : l;
  const Tensor y = solve_triangular(lower, b, /*upper=*/false);
  return solve_triangular(lower.mT(), y, /*upper=*/true);
}

// det(L L^T) = prod(diag(L))^2.
Tensor logdet(const Tensor& a) {
  return sum(log(diagonal(lower_cholesky("logdet", a))), {-1}) * 2.0;
}

// A mask through where, not a product with one: an infinity outside the
// triangle must become 0, not NaN.
Tensor tril(const Tensor& x, std::int64_t diagonal) {
  check_matrix("tril", "the input", x);
  return where(triangle_mask(x, diagonal, true), x, scalar_tensor(0.0, x.options()));
}

Tensor triu(const Tensor& x, std::int64_t diagonal) {
  check_matrix("triu", "the input", x);
  return where(triangle_mask(x, diagonal, false), x, scalar_tensor(0.0, x.options()));
}

Tensor diagonal(const Tensor& x, std::int64_t offset) {
  check_matrix("diagonal", "the input", x);
  return record("diagonal", {x}, diagonal_view(x, offset), {},
                [shape = x.shape(), offset](Node&, const Tensor& g) -> GradList {
                  return {diagonal_backward(g, shape, offset)};
                });
}

}  // namespace tether
