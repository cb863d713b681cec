// Matrix products. Everything reduces to one primitive, a batched product with
// broadcast batch dims, whose backward is two more such products.
#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// a [..., n, k] @ b [..., k, m] with broadcast batch dims (both rank >= 2, k checked).
Tensor batched_matmul(const Tensor& a, const Tensor& b) {
  const Shape batch = broadcast_shapes("matmul", batch_shape(a), batch_shape(b));
  Tensor out =
      Tensor::empty(matrices_shape(batch, a.size(-2), b.size(-1)), a.dtype(), a.device(), "matmul");
  backend_of(a).matmul(as_batched(a, batch), as_batched(b, batch), as_batched(out, batch));
  return record("matmul", {a, b}, out, {a, b},
                [sa = a.shape(), sb = b.shape()](Node& n, const Tensor& g) -> GradList {
                  return {
                      n.needs_grad(0) ? sum_to_shape(matmul(g, n.saved(1).mT()), sa) : Tensor(),
                      n.needs_grad(1) ? sum_to_shape(matmul(n.saved(0).mT(), g), sb) : Tensor()};
                });
}

/// x (rank 1 or 2) as the backend's rank-3 [1, rows, cols] view, without
/// recording anything; a vector is a row (`vector_is_row`) or a column, and a
/// matrix may be taken transposed.
Tensor as_single_matrix(const Tensor& x, bool vector_is_row, bool transposed = false) {
  if (x.dim() == 2) {
    const int r = transposed ? 1 : 0, c = 1 - r;
    return Tensor::view_of(x, {1, x.shape()[r], x.shape()[c]}, {0, x.strides()[r], x.strides()[c]},
                           x.storage_offset());
  }
  const std::int64_t n = x.shape()[0], stride = x.strides()[0];
  return vector_is_row ? Tensor::view_of(x, {1, 1, n}, {0, 0, stride}, x.storage_offset())
                       : Tensor::view_of(x, {1, n, 1}, {0, stride, 0}, x.storage_offset());
}

/// a @ b for operands of rank 1 or 2, the common case, in one kernel call and
/// one node: a vector is a row on the left and a column on the right, and that
/// extent-1 dim is left out of the result. The general path would record an
/// unsqueeze, a squeeze and batch views around the same product.
Tensor matrix_product(const Tensor& a, const Tensor& b) {
  const std::int64_t rows = a.dim() == 2 ? a.shape()[0] : 1;
  const std::int64_t cols = b.dim() == 2 ? b.shape()[1] : 1;
  Shape shape;
  if (a.dim() == 2) shape.push_back(rows);
  if (b.dim() == 2) shape.push_back(cols);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device(), "matmul");
  backend_of(a).matmul(as_single_matrix(a, true), as_single_matrix(b, false),
                       Tensor::view_of(out, {1, rows, cols}, {0, cols, 1}, 0));
  // With g = dL/d(out): dL/da = g b^T and dL/db = a^T g, where a product with
  // a vector side becomes an outer product (matrix @ vector) or a scaling
  // (vector . vector).
  return record("matmul", {a, b}, out, {a, b}, [](Node& n, const Tensor& g) -> GradList {
    const Tensor &a = n.saved(0), &b = n.saved(1);
    Tensor grad_a, grad_b;
    if (n.needs_grad(0))
      grad_a = b.dim() == 2 ? matmul(g, b.mT()) : a.dim() == 2 ? outer(g, b) : g * b;
    if (n.needs_grad(1))
      grad_b = a.dim() == 2 ? matmul(a.mT(), g) : b.dim() == 2 ? outer(a, g) : a * g;
    return {grad_a, grad_b};
  });
}

/// The checks every product makes (matmul, mm, mv, dot), naming `op`:
/// operands of one dtype (any: i64 products are exact, and have no gradient)
/// and device, with at least one dimension each and matching inner dimensions.
void check_product(const char* op, const Tensor& a, const Tensor& b) {
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
  if (a.dim() == 0 || b.dim() == 0)
    fail<ShapeError>(op, ": both operands need at least one dimension, got ", a.shape(), " and ",
                     b.shape());
  // Checked before promoting 1-d operands, so the message shows the user's shapes.
  if (a.size(-1) != b.size(b.dim() == 1 ? 0 : -2))
    fail<ShapeError>(op, ": inner dimensions differ: ", a.shape(), " @ ", b.shape());
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_product("matmul", a, b);
  if (a.dim() <= 2 && b.dim() <= 2) return matrix_product(a, b);
  // 1-d operands become a row (left) or column (right) matrix, removed again after.
  const Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
  const Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
  Tensor out = batched_matmul(a2, b2);
  if (b.dim() == 1) out = squeeze(out, -1);
  if (a.dim() == 1) out = squeeze(out, a.dim() == 1 && b.dim() == 1 ? -1 : -2);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_floating("linear", x);
  check_floating("linear", weight);
  check_same_dtype("linear", x, weight);
  check_same_device("linear", x, weight);
  if (weight.dim() != 2)
    fail<ShapeError>("linear: expected a weight [out_features, in_features], got ", weight.shape());
  if (x.dim() == 0 || x.size(-1) != weight.shape()[1])
    fail<ShapeError>("linear: expected an input [..., ", weight.shape()[1], "], got ", x.shape());
  if (bias.defined()) {
    check_same_dtype("linear", x, bias);
    check_same_device("linear", x, bias);
    if (bias.dim() != 1 || bias.shape()[0] != weight.shape()[0])
      fail<ShapeError>("linear: expected a bias [", weight.shape()[0], "], got ", bias.shape());
  }
  if (x.dim() == 1) {  // one vector: the composed form
    const Tensor y = matmul(x, weight.mT());
    return bias.defined() ? y + bias : y;
  }
  if (x.dim() > 2) {
    // A batch [..., in] is one [N, in] matrix (a view when the leading dims
    // allow): one product forward, and the weight's gradient one product over
    // all N rows rather than a product per batch entry summed afterwards.
    Shape rows_shape = x.shape(), out_shape = x.shape();
    rows_shape.pop_back();
    out_shape.back() = weight.shape()[0];
    return linear(x.reshape({rows_shape.numel(), x.size(-1)}), weight, bias).reshape(out_shape);
  }
  // [N, in] inputs, the common case: one product, the bias added in place, one node.
  const std::int64_t rows = x.shape()[0], cols = weight.shape()[0];
  Tensor out = Tensor::empty({rows, cols}, x.dtype(), x.device(), "linear");
  backend::Backend& backend = backend_of(x);
  backend.matmul(as_single_matrix(x, true), as_single_matrix(weight, true, true),
                 Tensor::view_of(out, {1, rows, cols}, {0, cols, 1}, 0));
  if (bias.defined()) backend.binary(BinaryOp::add, out, broadcast_view(bias, out.shape()), out);
  return record("linear", {x, weight, bias}, out, {x, weight},
                [](Node& n, const Tensor& g) -> GradList {
                  return {n.needs_grad(0) ? matmul(g, n.saved(1)) : Tensor(),
                          n.needs_grad(1) ? matmul(g.mT(), n.saved(0)) : Tensor(),
                          n.needs_grad(2) ? sum(g, {0}) : Tensor()};
                });
}

Tensor mm(const Tensor& a, const Tensor& b) {
  check_product("mm", a, b);
  if (a.dim() != 2 || b.dim() != 2)
    fail<ShapeError>("mm: expected two matrices, got ", a.shape(), " and ", b.shape());
  return matmul(a, b);
}

Tensor mv(const Tensor& matrix, const Tensor& vec) {
  check_product("mv", matrix, vec);
  if (matrix.dim() != 2 || vec.dim() != 1)
    fail<ShapeError>("mv: expected a matrix and a vector, got ", matrix.shape(), " and ",
                     vec.shape());
  return matmul(matrix, vec);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_product("dot", a, b);
  if (a.dim() != 1 || b.dim() != 1 || a.size(0) != b.size(0))
    fail<ShapeError>("dot: expected two vectors of equal length, got ", a.shape(), " and ",
                     b.shape());
  return matmul(a, b);
}

Tensor outer(const Tensor& a, const Tensor& b) {
  check_same_device("outer", a, b);
  if (a.dim() != 1 || b.dim() != 1)
    fail<ShapeError>("outer: expected two vectors, got ", a.shape(), " and ", b.shape());
  return unsqueeze(a, 1) * unsqueeze(b, 0);
}

}  // namespace tether
