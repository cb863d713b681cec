// Reductions (sum, max, min over any set of dimensions; for bool, any and
// all), argmax and argmin.
//
// A reduction is an element-wise accumulation out = combine(out, in) in which
// `out` is viewed with in's shape and stride 0 along the reduced dimensions.
// After StridedRows merges dimensions, each row either folds into one output
// element (reducing trailing dimensions, or all of them: a vectorised Eigen
// redux) or accumulates into a row of outputs (reducing leading dimensions,
// like a bias gradient summed over the batch: a vectorised element-wise
// update), so the common layouts need no special cases.
#include <cmath>
#include <functional>
#include <type_traits>

#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {
namespace {

/// Folds one row with `combine`, an Eigen binary functor.
template <class T, class Combine>
T fold_row(const Combine& combine, RowInput<T> row, std::int64_t n) {
  if (row.stride == 1) return ColumnMap<const T>(row.data, n).redux(combine);
  return StridedColumnMap<const T>(row.data, n, Eigen::InnerStride<>(row.stride)).redux(combine);
}

/// out = the fold of `in` with `combine` over the dimensions in `reduce_mask`,
/// starting from `identity`.
template <class T, class Combine>
void reduce_typed(const Combine& combine, T identity, const Tensor& in, std::uint32_t reduce_mask,
                  const Tensor& out) {
  Strides out_strides = out.strides();
  for (int d = 0; d < in.dim(); ++d)
    if (reduce_mask >> d & 1) out_strides[d] = 0;
  T* const result = out.data_ptr<T>();
  const T* const data = in.data_ptr<T>();
  fill_elements(out.shape(), operand<T>(out), identity);
  StridedRows rows(in.shape(), out_strides, in.strides());
  rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t n) {
    T* const target = result + offsets[0];
    const RowInput<T> row{data + offsets[1], strides[1]};
    if (strides[0] == 0) {
      *target = combine(*target, fold_row(combine, row, n));
    } else {
      evaluate_row([&](const auto& acc, const auto& x) { return acc.binaryExpr(x, combine); },
                   target, strides[0], n, RowInput<T>{target, strides[0]}, row);
    }
  });
}

template <class T>
bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(x);
  else
    return false;
}

/// Index of the first largest (or smallest) of n elements `step` apart; NaN
/// counts as more extreme than any number, as in PyTorch.
template <bool Largest, class T>
std::int64_t first_extreme_index(const T* data, std::int64_t n, std::int64_t step) {
  std::int64_t best = 0;
  T best_value = data[0];
  for (std::int64_t i = 1; i < n && !is_nan(best_value); ++i) {
    const T x = data[i * step];
    if ((Largest ? x > best_value : x < best_value) || is_nan(x)) {
      best = i;
      best_value = x;
    }
  }
  return best;
}

/// argmax (Largest) or argmin of `in` along `dim` into `out`.
template <bool Largest>
void arg_extreme(const char* op, const Tensor& in, int dim, const Tensor& out) {
  if (out.numel() == 0) return;
  check_argmax(op, in, dim);
  const std::int64_t extent = in.shape()[dim], step = in.strides()[dim];
  visit_dtype(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T* const data = in.data_ptr<T>();
    std::int64_t* const result = out.data_ptr<std::int64_t>();
    // Rows over out's shape visit every position of `dim`'s first element.
    StridedRows rows(out.shape(), out.strides(), in.strides());
    rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i)
        result[offsets[0] + i * strides[0]] =
            first_extreme_index<Largest>(data + offsets[1] + i * strides[1], extent, step);
    });
  });
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& in, std::uint32_t reduce_mask,
                        const Tensor& out) {
  check_reduce(op, in, out);
  visit_dtype_or_bool(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T identity = reduce_identity<T>(op);
    if constexpr (std::is_same_v<T, bool>) {  // any (max) and all (min); sum is counted in i64
      if (op == ReduceOp::min)
        reduce_typed(std::logical_and<bool>(), identity, in, reduce_mask, out);
      else
        reduce_typed(std::logical_or<bool>(), identity, in, reduce_mask, out);
    } else {
      switch (op) {
        case ReduceOp::sum:
          if constexpr (std::is_integral_v<T>)  // wraps around on overflow, as in PyTorch
            return reduce_typed(WrappingAdd(), identity, in, reduce_mask, out);
          else
            return reduce_typed(Eigen::internal::scalar_sum_op<T, T>(), identity, in, reduce_mask,
                                out);
        case ReduceOp::max:
          return reduce_typed(NanPropagatingMax<T>(), identity, in, reduce_mask, out);
        case ReduceOp::min:
          return reduce_typed(NanPropagatingMin<T>(), identity, in, reduce_mask, out);
      }
    }
  });
}

void CpuBackend::argmax(const Tensor& in, int dim, const Tensor& out) {
  arg_extreme<true>("argmax", in, dim, out);
}

void CpuBackend::argmin(const Tensor& in, int dim, const Tensor& out) {
  arg_extreme<false>("argmin", in, dim, out);
}

}  // namespace tether::backend::cpu
