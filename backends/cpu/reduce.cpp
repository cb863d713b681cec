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
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
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

/// Folds a row of n input elements into its accumulator (target_stride 0:
/// one element) or accumulates it element-wise into a row of them.
template <class T, class Combine>
void accumulate_row(const Combine& combine, T* target, std::int64_t target_stride, RowInput<T> row,
                    std::int64_t n) {
  if (target_stride == 0) {
    *target = combine(*target, fold_row(combine, row, n));
  } else {
    evaluate_row([&](const auto& acc, const auto& x) { return acc.binaryExpr(x, combine); }, target,
                 target_stride, n, RowInput<T>{target, target_stride}, row);
  }
}

/// out = the fold of `in` with `combine` over the dimensions in `reduce_mask`,
/// starting from `identity`.
///
/// Threads split the work where every output still folds its inputs in the
/// order of one thread, so the result is bitwise that of one thread: along
/// the outermost merged dimension when out keeps it (each thread has outputs
/// of its own), else along the rows when out keeps the innermost one (each
/// thread has a range of every row, as in a bias's gradient summed over the
/// batch). Otherwise (a full reduction; a reduction over the innermost and
/// outermost dimensions) each chunk of the outermost dimension folds into a
/// partial result and the partials are combined in chunk order: bitwise the
/// same on every run with the same thread count, and for sums different
/// between thread counts by rounding only (max and min are exact).
template <class T, class Combine>
void reduce_typed(const Combine& combine, T identity, const Tensor& in, std::uint32_t reduce_mask,
                  const Tensor& out) {
  Strides out_strides = out.strides();
  for (int d = 0; d < in.dim(); ++d)
    if (reduce_mask >> d & 1) out_strides[d] = 0;
  T* const result = out.data_ptr<T>();
  const T* const data = in.data_ptr<T>();
  fill_elements(out.shape(), operand<T>(out), identity);
  const StridedRows rows(in.shape(), out_strides, in.strides());
  const std::int64_t size = rows.size(), outer = rows.outer_extent();
  // Accumulates the elements [begin, end) of the iteration order into `target`.
  const auto accumulate = [&](T* target, std::int64_t begin, std::int64_t end) {
    rows.for_each_in(begin, end, [&](const auto& offsets, const auto& strides, std::int64_t n) {
      accumulate_row(combine, target + offsets[0], strides[0], {data + offsets[1], strides[1]}, n);
    });
  };
  // Too small for any split below (each needs 2 * kParallelGrain elements).
  if (size < 2 * kParallelGrain) [[likely]]
    return accumulate(result, 0, size);
  const std::int64_t inner = size / outer, outer_grain = kParallelGrain / inner + 1;
  if (rows.outer_stride(0) != 0) {
    parallel_for(0, outer, outer_grain, [&](std::int64_t begin, std::int64_t end) {
      accumulate(result, begin * inner, end * inner);
    });
    return;
  }
  const std::int64_t row_length = rows.row_length();
  if (rows.row_stride(0) != 0 && row_length < size) {
    const std::int64_t row_grain = kParallelGrain / (size / row_length) + 1;
    parallel_for(0, row_length, row_grain, [&](std::int64_t first, std::int64_t last) {
      rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t) {
        accumulate_row(combine, result + offsets[0] + first * strides[0], strides[0],
                       {data + offsets[1] + first * strides[1], strides[1]}, last - first);
      });
    });
    return;
  }
  // Partials share out's offsets, which a contiguous out keeps below numel.
  const std::int64_t chunks = out.is_contiguous() ? parallel_chunks(0, outer, outer_grain) : 1;
  const std::int64_t outputs = out.numel();
  const auto partials = std::make_unique<T[]>((chunks - 1) * outputs);
  for_each_chunk(0, outer, chunks, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
    T* const target = chunk == 0 ? result : partials.get() + (chunk - 1) * outputs;
    if (chunk > 0) std::fill_n(target, outputs, identity);
    accumulate(target, begin * inner, end * inner);
  });
  for (std::int64_t chunk = 1; chunk < chunks; ++chunk) {
    ColumnMap<T> total(result, outputs);
    total = total.binaryExpr(ColumnMap<const T>(partials.get() + (chunk - 1) * outputs, outputs),
                             combine);
  }
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
    const std::int64_t grain = kParallelGrain / std::max<std::int64_t>(extent, 1) + 1;
    const auto row = [&](const auto& offsets, const auto& strides, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i)
        result[offsets[0] + i * strides[0]] =
            first_extreme_index<Largest>(data + offsets[1] + i * strides[1], extent, step);
    };
    rows.parallel_for_each(result, row, grain);
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
