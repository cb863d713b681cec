// What the CPU and CUDA backends share on the host, private to the backends
// layer: the CPU backend's instance (the CUDA backend's host fallbacks run on
// it), the switch from a runtime dtype to a C++ type, and the per-op facts
// that both backends must agree on. Integer arithmetic, which runs in both
// backends' kernels, is in integer_arithmetic.h.
//
// Dtypes reach kernels in two sets. visit_dtype gives the arithmetic ones
// (f32, f64, i64), which every kernel supports; visit_dtype_or_bool adds bool
// for the few kernels that make sense on masks, as PyTorch's: those that move,
// select or compare elements. So a new kernel visited the usual way is never
// compiled for bool, and a mask that reaches it is a DTypeError, not a wrong
// result: no arithmetic kernel is instantiated for bool.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "integer_arithmetic.h"  // saturate_cast, the Wrapping functors
#include "tether/backend/backend.h"
#include "tether/error.h"

namespace tether::backend {

/// The CPU backend's one instance (defined in cpu/cpu_backend.cpp).
Backend& cpu_backend();

/// Calls `f(std::type_identity<T>{})` with T the C++ element type of `dtype`;
/// the one place where a runtime dtype becomes a template argument. The
/// arithmetic dtypes only (float, double, std::int64_t): a kernel visited
/// here is compiled for those three. A boolean tensor is a DTypeError, a
/// backstop: the ops promote masks (to i64 or a floating dtype) or refuse
/// them by name before they reach an arithmetic kernel.
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(std::type_identity<float>{});
    case DType::f64:
      return f(std::type_identity<double>{});
    case DType::i64:
      return f(std::type_identity<std::int64_t>{});
    case DType::boolean:
      break;
  }
  fail<DTypeError>("kernel: no arithmetic kernel for dtype ", dtype);
}

/// visit_dtype that also takes booleans (T = bool), for the kernels that only
/// move, select or compare elements (fill, copy, where, index_select, gather,
/// the predicates, any/all): the one way bool reaches a kernel template, so
/// that no arithmetic kernel is instantiated for it by accident.
template <class F>
decltype(auto) visit_dtype_or_bool(DType dtype, F&& f) {
  if (dtype == DType::boolean) return f(std::type_identity<bool>{});
  return visit_dtype(dtype, std::forward<F>(f));
}

/// visit_dtype for kernels that exist only for floating types; throws
/// DTypeError naming `op` for i64 and boolean.
template <class F>
decltype(auto) visit_floating(const char* op, DType dtype, F&& f) {
  if (dtype == DType::f32) return f(std::type_identity<float>{});
  if (dtype == DType::f64) return f(std::type_identity<double>{});
  fail<DTypeError>(op, ": expected a floating dtype (f32 or f64), got ", dtype);
}

/// Throws DTypeError when `dtype` is an integer type and `op` is floating-only
/// (floating_only, backend.h): each backend's unary() checks this first, so
/// its kernels compile the floating-only ops for floating types alone.
inline void check_unary_dtype(UnaryOp op, DType dtype) {
  if (!is_floating(dtype) && floating_only(op))
    fail<DTypeError>("unary: op #", static_cast<int>(op), " needs a floating dtype, got ", dtype);
}

/// The value a reduction starts from: 0 for sum; for max and min the lowest
/// and highest values of T, -inf and +inf for floating types, so that a row
/// of infinities reduces to one.
template <class T>
T reduce_identity(ReduceOp op) {
  using Limits = std::numeric_limits<T>;
  switch (op) {
    case ReduceOp::sum:
      return T(0);
    case ReduceOp::max:
      return Limits::has_infinity ? -Limits::infinity() : Limits::lowest();
    case ReduceOp::min:
      return Limits::has_infinity ? Limits::infinity() : Limits::max();
  }
  return T(0);  // unreachable: the switch names every op
}

/// Throws ValueError for a max or min of no elements into a non-empty output:
/// they have no value (PyTorch refuses them too). For bool they are any and
/// all, whose values over no elements are false and true.
inline void check_reduce(ReduceOp op, const Tensor& in, const Tensor& out) {
  if (op != ReduceOp::sum && in.dtype() != DType::boolean && in.numel() == 0 && out.numel() != 0)
    fail<ValueError>("reduce: max and min of an empty tensor ", in.shape(), " are undefined");
}

/// Throws IndexError naming `op` (argmax, argmin) when `dim` of `in` is empty:
/// no element to point at.
inline void check_argmax(const char* op, const Tensor& in, int dim) {
  if (in.shape()[dim] == 0)
    fail<IndexError>(op, ": dimension ", dim, " of shape ", in.shape(), " is empty");
}

}  // namespace tether::backend
