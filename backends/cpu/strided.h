// Strided iteration for element-wise CPU kernels.
//
// Every element-wise kernel (fill, copy, unary, binary, where, and the
// accumulating steps of reduce and the index ops) runs through one loop:
// StridedRows merges the dimensions that are contiguous for all operands into
// as few as possible, walks the outer ones with an odometer, and hands the
// innermost one to the kernel as a row. evaluate_row() then picks an Eigen
// expression per operand, so that rows of contiguous or broadcast (stride 0)
// data run vectorised, transcendental functions included. Nothing here
// allocates: a 4-element `a + b` costs a few dozen nanoseconds.
#pragma once

#include <Eigen/Core>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "tether/shape.h"
#include "tether/tensor.h"

namespace tether::backend::cpu {

template <class T>
using Column = Eigen::Array<std::remove_const_t<T>, Eigen::Dynamic, 1>;
/// A contiguous row as an Eigen array (read-only when T is const).
template <class T>
using ColumnMap = Eigen::Map<std::conditional_t<std::is_const_v<T>, const Column<T>, Column<T>>>;
/// A row whose elements are a fixed number of elements apart.
template <class T>
using StridedColumnMap =
    Eigen::Map<std::conditional_t<std::is_const_v<T>, const Column<T>, Column<T>>, Eigen::Unaligned,
               Eigen::InnerStride<>>;

/// Element-wise maximum and minimum that return NaN when either side is NaN,
/// as PyTorch's maximum/amax do (Eigen's default picks either operand).
template <class T>
using NanPropagatingMax = Eigen::internal::scalar_max_op<T, T, Eigen::PropagateNaN>;
template <class T>
using NanPropagatingMin = Eigen::internal::scalar_min_op<T, T, Eigen::PropagateNaN>;

/// A tensor's elements as a typed pointer to its first element plus strides
/// (borrowed: the strides must outlive the operand).
template <class T>
struct Operand {
  T* data;
  const Strides* strides;
};

/// The operand of `tensor` (T may be const); throws DTypeError on a mismatch.
template <class T>
Operand<T> operand(const Tensor& tensor) {
  return {tensor.data_ptr<std::remove_const_t<T>>(), &tensor.strides()};
}

/// The elements of N equally shaped operands, visited row by row.
template <std::size_t N>
class StridedRows {
 public:
  using Offsets = std::array<std::int64_t, N>;

  template <class... S>
  requires(sizeof...(S) == N &&
           (std::same_as<S, Strides> && ...)) explicit StridedRows(const Shape& shape,
                                                                   const S&... strides) {
    const std::array<const Strides*, N> operand_strides = {&strides...};
    // Walk from the innermost dimension outwards, dropping extent-1 dimensions
    // and merging a dimension into the previous one when every operand steps
    // over it as if the two were one.
    for (int d = shape.size() - 1; d >= 0; --d) {
      if (shape[d] == 0) empty_ = true;
      if (shape[d] == 1) continue;
      const bool mergeable = rank_ > 0 && [&] {
        for (std::size_t k = 0; k < N; ++k)
          if ((*operand_strides[k])[d] != stride_[rank_ - 1][k] * extent_[rank_ - 1]) return false;
        return true;
      }();
      if (mergeable) {
        extent_[rank_ - 1] *= shape[d];
        continue;
      }
      extent_[rank_] = shape[d];
      for (std::size_t k = 0; k < N; ++k) stride_[rank_][k] = (*operand_strides[k])[d];
      ++rank_;
    }
    if (rank_ == 0) {  // a single element: call it a contiguous row of one
      rank_ = 1;
      extent_[0] = 1;
      stride_[0].fill(1);
    }
  }

  /// Calls row(offsets, strides, n) for every row: operand k's elements of the
  /// row are at offsets[k] + i * strides[k] for i < n, in elements.
  template <class Row>
  void for_each(Row&& row) const {
    if (empty_) return;
    Offsets offsets{};
    if (rank_ == 1) return row(offsets, stride_[0], extent_[0]);  // contiguous operands
    std::int64_t counter[Shape::kMaxDims] = {};
    for (;;) {
      row(offsets, stride_[0], extent_[0]);
      // Odometer: rewind the outer dimensions that wrap, step the next one.
      int d = 1;
      for (; d < rank_ && ++counter[d] == extent_[d]; ++d) {
        counter[d] = 0;
        for (std::size_t k = 0; k < N; ++k) offsets[k] -= stride_[d][k] * (extent_[d] - 1);
      }
      if (d == rank_) return;
      for (std::size_t k = 0; k < N; ++k) offsets[k] += stride_[d][k];
    }
  }

 private:
  // Merged dimensions, innermost first; entries from rank_ on are unused (and
  // left uninitialised: zeroing them costs more than a 4-element add).
  int rank_ = 0;
  bool empty_ = false;
  std::int64_t extent_[Shape::kMaxDims];
  Offsets stride_[Shape::kMaxDims];
};

template <class... S>
StridedRows(const Shape&, const S&...) -> StridedRows<sizeof...(S)>;

/// One row of an input: elements `stride` apart (0: one broadcast value).
template <class T>
struct RowInput {
  const T* data;
  std::int64_t stride;
};

/// Calls k(exprs...) with every input as the Eigen expression that vectorises:
/// a Constant for a broadcast value, a Map for a contiguous row.
template <class K>
void with_dense_exprs(Eigen::Index, K&& k) {
  k();
}
template <class K, class T, class... Rest>
void with_dense_exprs(Eigen::Index n, K&& k, RowInput<T> first, RowInput<Rest>... rest) {
  const auto next = [&](const auto& expr) {
    with_dense_exprs(
        n, [&](const auto&... exprs) { k(expr, exprs...); }, rest...);
  };
  if (first.stride == 0)
    next(Column<T>::Constant(n, *first.data));
  else
    next(ColumnMap<const T>(first.data, n));
}

/// out[i * out_stride] = f(inputs...[i]) for i < n, where f maps Eigen array
/// expressions to an expression of T. A contiguous output with contiguous or
/// broadcast inputs is the vectorised fast path.
template <class F, class T, class... Ins>
void evaluate_row(const F& f, T* out, std::int64_t out_stride, std::int64_t n,
                  RowInput<Ins>... ins) {
  if (out_stride == 1 && ((ins.stride <= 1) && ...)) {
    with_dense_exprs(
        n, [&](const auto&... x) { ColumnMap<T>(out, n) = f(x...); }, ins...);
  } else {
    StridedColumnMap<T>(out, n, Eigen::InnerStride<>(out_stride)) =
        f(StridedColumnMap<const Ins>(ins.data, n, Eigen::InnerStride<>(ins.stride))...);
  }
}

/// out = f(ins...) over the rows of `rows`, whose operands are out and then
/// the inputs, each starting at the given pointer. Kernels that apply one
/// layout at many places (index ops) build the rows once.
template <class F, class T, class... Ins>
void map_rows(const F& f, const StridedRows<1 + sizeof...(Ins)>& rows, T* out, const Ins*... ins) {
  rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t n) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      evaluate_row(f, out + offsets[0], strides[0], n,
                   RowInput<Ins>{ins + offsets[I + 1], strides[I + 1]}...);
    }
    (std::index_sequence_for<Ins...>{});
  });
}

/// out = f(ins...) element-wise over `shape`; the inputs have out's shape
/// (stride 0 where broadcast). See evaluate_row for f.
template <class F, class T, class... Ins>
void map_elementwise(const F& f, const Shape& shape, const Operand<T>& out,
                     const Operand<const Ins>&... ins) {
  map_rows(f, StridedRows(shape, *out.strides, *ins.strides...), out.data, ins.data...);
}

/// Sets every element of `out` (any strides) to `value`.
template <class T>
void fill_elements(const Shape& shape, const Operand<T>& out, T value) {
  const Strides zeros = Shape::filled(shape.size(), 0);
  const Operand<const T> broadcast{&value, &zeros};
  map_elementwise([](const auto& x) { return x; }, shape, out, broadcast);
}

}  // namespace tether::backend::cpu
