// Type promotion: the dtype an element-wise op computes in, as PyTorch's
// result_type. Binary kernels, scalar arithmetic, where, clamp and the
// in-place ops all ask ResultType, so the rule lives here only.
#include "op_util.h"

namespace tether {

using namespace ops;

namespace ops {

namespace {

/// The higher-priority group decides unless the lower one is of a higher
/// kind (bool < integer < floating): a 0.5 lifts an i64 tensor to floating
/// point and a 2 a mask to i64, but neither narrows an f64 one.
std::optional<DType> combine(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher) return lower;
  if (lower && kind(*lower) > kind(*higher)) return promote_types(*higher, *lower);
  return higher;
}

}  // namespace

void ResultType::include(std::optional<DType>& group, DType dtype) {
  group = group ? promote_types(*group, dtype) : dtype;
}

ResultType& ResultType::add(const Tensor& x) {
  check_defined("result_type", x);
  include(x.dim() > 0 ? dimensioned_ : zero_dim_, x.dtype());
  return *this;
}

ResultType& ResultType::add(std::optional<Scalar> x) {
  // A Python float is "a double" to PyTorch, yet promotes as the default dtype.
  if (x) include(scalars_, x->is_floating_point() ? default_float_dtype : DType::i64);
  return *this;
}

DType ResultType::dtype() const {
  const auto result = combine(dimensioned_, combine(zero_dim_, scalars_));
  if (!result) fail<ValueError>("result_type: expected at least one operand");
  return *result;
}

DType true_division_type(DType dtype) {
  return is_floating(dtype) ? dtype : default_float_dtype;
}

}  // namespace ops

DType result_type(const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype()) return a.dtype();  // the common case, on every binary op's path
  return ResultType().add(a).add(b).dtype();
}

DType result_type(const Tensor& tensor, Scalar scalar) {
  return ResultType().add(tensor).add(scalar).dtype();
}

}  // namespace tether
