// Helpers shared by the op families: argument checks that produce tether's
// error messages, and the kernel calls every op starts from.
#pragma once

#include <initializer_list>
#include <optional>

#include "tether/backend/backend.h"
#include "tether/capture.h"
#include "tether/error.h"
#include "tether/node.h"
#include "tether/ops.h"

namespace tether::ops {

using autograd::GradList;
using autograd::Node;
using autograd::record;
using autograd::record_outputs;
using backend::BinaryOp;
using backend::UnaryOp;

// Each check below first checks that its tensors are defined (check_defined,
// tensor.h), so an op that checks its arguments names itself for an undefined one.

/// Throws DTypeError naming `op` unless x is f32 or f64.
void check_floating(const char* op, const Tensor& x);
/// Throws DTypeError naming `op` when x is a bool tensor (a mask) and `op`
/// is arithmetic that PyTorch refuses on masks (neg, abs, ...).
void check_not_bool(const char* op, const Tensor& x);
/// Throws DTypeError / DeviceError naming `op` and both operands.
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
/// Throws ValueError naming `op` and `value` unless `value` can be stored in
/// `dtype`: for i64, a finite value in its range (a fraction truncates; 2^63,
/// INT64_MAX as a double, gives INT64_MAX), as PyTorch's "value cannot be
/// converted to type int64 without overflow".
void check_representable(const char* op, double value, DType dtype);
/// The backend of the inputs' common device.
backend::Backend& backend_of(const Tensor& x);

/// A raw (unrecorded) view of x broadcast to `shape` (stride 0 on broadcast
/// dims: backend::broadcast_strides); throws ShapeError when x does not broadcast.
Tensor broadcast_view(const Tensor& x, const Shape& shape);
/// The same for a kernel argument: x itself when it already has `shape` (no
/// copy of the handle, whose reference count is an atomic), else the view,
/// kept alive in `view`.
const Tensor& broadcast_view(const Tensor& x, const Shape& shape, Tensor& view);
/// Strides for viewing x with `shape` without copying, if possible.
std::optional<Strides> view_strides(const Tensor& x, const Shape& shape);
/// Same data as x with a contiguous layout (x itself if already contiguous); unrecorded.
Tensor contiguous_data(const Tensor& x);

/// x's shape without its last two dims: the batch of its matrices.
Shape batch_shape(const Tensor& x);
/// The shape of a `batch` of [rows, cols] matrices: batch + [rows, cols].
Shape matrices_shape(const Shape& batch, std::int64_t rows, std::int64_t cols);
/// x [..., r, c] broadcast over `batch` as the rank-3 [batch.numel(), r, c]
/// operand of a batched kernel (matmul, cholesky, solve_triangular): a view
/// when the strides allow one, else a packed copy; unrecorded. A fresh
/// (contiguous) output of shape batch + [r, c] is always viewed, so the
/// kernel writes into it.
Tensor as_batched(const Tensor& x, const Shape& batch);

/// torch.result_type over any number of operands (promotion.cpp): add each,
/// then read dtype(). An absent optional operand (a missing bound) is skipped.
class ResultType {
 public:
  ResultType& add(const Tensor& x);
  ResultType& add(std::optional<Scalar> x);
  /// Throws ValueError when no operand was added.
  DType dtype() const;

 private:
  /// Promotes `group` with `dtype`.
  static void include(std::optional<DType>& group, DType dtype);

  std::optional<DType> dimensioned_, zero_dim_, scalars_;
};

/// The dtype of a true division of these dtypes: floating ones stay, i64 gives
/// default_float_dtype.
DType true_division_type(DType dtype);

/// x's data in `dtype`: x itself when it has it already, else a converted
/// copy kept alive in `copy`; unrecorded.
const Tensor& converted_data(const Tensor& x, DType dtype, Tensor& copy);

/// out = op(x); unrecorded. An i64 x stays i64 for the ops that map integers
/// to integers, is converted to default_float_dtype for the other ops, or
/// throws DTypeError for those PyTorch refuses on integers (see ops.h).
Tensor unary_kernel(const char* name, UnaryOp op, const Tensor& x,
                    backend::UnaryParams params = {});
/// The op that computes `op` on two bool operands, as PyTorch's arithmetic on
/// masks: add and maximum are "or", mul and minimum "and", the predicates
/// themselves; the others throw DTypeError naming `name` (sub of two masks).
BinaryOp boolean_arithmetic(const char* name, BinaryOp op);
/// out = op(a, b) with broadcasting, computed in the operands' result type
/// (true_division_type of it for div); same device required; unrecorded. A
/// predicate (backend::is_predicate) gives a bool tensor; arithmetic on two
/// bool operands is PyTorch's: add is "or", mul "and", sub a DTypeError.
Tensor binary_kernel(const char* name, BinaryOp op, const Tensor& a, const Tensor& b);

/// The dims of a reduction as a bit mask over x's dims (empty = all dims).
std::uint32_t reduce_mask(const char* op, const Tensor& x, const Dims& dims);
/// x's shape with reduced dims set to 1 (keepdim) or removed.
Shape reduced_shape(const Shape& shape, std::uint32_t mask, bool keepdim);

/// The gradient of gather(x, dim, index) for x of `shape`: `g` scatter-added
/// into zeros (shape.cpp); recorded, so its own gradient is a gather.
Tensor gather_backward(const Tensor& g, const Shape& shape, int dim, const Tensor& index);

/// Throws AutogradError if an in-place write to `self` (from `other`) would
/// corrupt the graph: while grad mode is on, neither may require grad.
void check_inplace(const char* op, const Tensor& self, const Tensor& other = {});

}  // namespace tether::ops
