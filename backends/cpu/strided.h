// Strided iteration for element-wise CPU kernels.
//
// Every element-wise kernel (fill, copy, unary, binary, where, and the
// accumulating steps of reduce and the index ops) runs through one loop:
// StridedRows merges the dimensions that are contiguous for all operands into
// as few as possible, walks the outer ones with an odometer, and hands the
// innermost one to the kernel as a row. evaluate_row() then maps the row into
// Eigen arrays, so that rows of contiguous data (and, for binary ops, of one
// broadcast scalar) run vectorised, transcendental functions included. Nothing here
// allocates: a 4-element `a + b` costs a few dozen nanoseconds.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../common/merge_dimensions.h"
#include "tether/backend/parallel.h"
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
    // No elements, no rows (and no merging, which could overflow).
    empty_ = std::find(shape.begin(), shape.end(), 0) != shape.end();
    if (empty_) return;
    const std::array<const Strides*, N> operand_strides = {&strides...};
    rank_ = merge_dimensions<N>(
        shape, [&](std::size_t k, int d) { return (*operand_strides[k])[d]; }, extent_, stride_);
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
    do row(offsets, stride_[0], extent_[0]);
    while (next_row(counter, offsets));
  }

  /// The number of elements.
  std::int64_t size() const {
    if (empty_) return 0;
    std::int64_t n = 1;
    for (int d = 0; d < rank_; ++d) n *= extent_[d];
    return n;
  }
  /// The extent of the outermost merged dimension (0 without elements), and
  /// operand k's stride along it: a kernel cutting the elements at multiples
  /// of size() / outer_extent() never cuts a row.
  std::int64_t outer_extent() const { return empty_ ? 0 : extent_[rank_ - 1]; }
  std::int64_t outer_stride(std::size_t k) const { return empty_ ? 0 : stride_[rank_ - 1][k]; }
  /// The elements of one row (0 without elements), and operand k's stride along it.
  std::int64_t row_length() const { return empty_ ? 0 : extent_[0]; }
  std::int64_t row_stride(std::size_t k) const { return empty_ ? 0 : stride_[0][k]; }

  /// As for_each, over the elements [begin, end) of the iteration order only
  /// (the first and last rows cut to them).
  template <class Row>
  void for_each_in(std::int64_t begin, std::int64_t end, Row&& row) const {
    if (empty_ || begin >= end) return;
    if (begin == 0 && end >= size()) return for_each(row);  // no divisions for a small op
    Offsets offsets{};
    std::int64_t counter[Shape::kMaxDims];
    std::int64_t rest = begin;
    for (int d = 0; d < rank_; ++d) {
      counter[d] = rest % extent_[d];
      rest /= extent_[d];
      for (std::size_t k = 0; k < N; ++k) offsets[k] += counter[d] * stride_[d][k];
    }
    for (std::int64_t left = end - begin;;) {
      const std::int64_t n = std::min(extent_[0] - counter[0], left);
      row(offsets, stride_[0], n);
      if ((left -= n) == 0) return;
      for (std::size_t k = 0; k < N; ++k) offsets[k] -= counter[0] * stride_[0][k];
      counter[0] = 0;
      next_row(counter, offsets);
    }
  }

  /// As for_each, with the elements split among the CPU threads (parallel.h)
  /// once there are 2 * grain of them. Operand 0 (the output, `out` its
  /// first element) is the one written. A chunk starts at a row's start or at
  /// an output element on a 64-byte boundary: there Eigen's vectorised loop
  /// (which peels elements up to the first aligned one and finishes the row's
  /// tail element by element) gives every element the packet or scalar path
  /// one pass over the row would, so results are bitwise those of one thread
  /// even for functions whose packet and scalar versions round differently.
  template <class T, class Row>
  void parallel_for_each(const T* out, Row&& row, std::int64_t grain = kParallelGrain) const {
    parallel_for_each(out, row, row, grain);
  }
  /// As above, with the chunks of a split op going to threaded_row, a twin of
  /// row. Where row evaluates Eigen expressions, a twin of its own type keeps
  /// a small op's code as it was before the threads: with a second caller of
  /// the one row function, GCC stops inlining Eigen's assignment loop into it
  /// (10% more time for a 4-element add).
  template <class T, class Row, class ThreadedRow>
  void parallel_for_each(const T* out, Row&& row, const ThreadedRow& threaded_row,
                         std::int64_t grain = kParallelGrain) const {
    // A contiguous op's element count without size()'s loop.
    if ((rank_ == 1 ? extent_[0] : size()) < 2 * grain) [[likely]]
      return for_each(row);
    split_among_threads(out, threaded_row, grain);
  }

 private:
  // Out of line, so that a small op's loop compiles as it would without threads.
  template <class T, class Row>
  [[gnu::noinline]] void split_among_threads(const T* out, const Row& row,
                                             std::int64_t grain) const {
    parallel_for(0, size(), grain, [&](std::int64_t begin, std::int64_t end) {
      for_each_in(chunk_boundary(begin, out), chunk_boundary(end, out), row);
    });
  }

  /// Steps counter (dimensions 1 and up) and offsets from one row's start to
  /// the next's; false after the last row.
  bool next_row(std::int64_t* counter, Offsets& offsets) const {
    // Odometer: rewind the outer dimensions that wrap, step the next one.
    int d = 1;
    for (; d < rank_ && ++counter[d] == extent_[d]; ++d) {
      counter[d] = 0;
      for (std::size_t k = 0; k < N; ++k) offsets[k] -= stride_[d][k] * (extent_[d] - 1);
    }
    if (d == rank_) return false;
    for (std::size_t k = 0; k < N; ++k) offsets[k] += stride_[d][k];
    return true;
  }

  /// The first element from `index` on (in iteration order) where a chunk
  /// may start: a row's start, any element of a strided output row (Eigen
  /// evaluates those element by element), or an output element on a 64-byte
  /// boundary (see parallel_for_each); index itself past the last element.
  template <class T>
  std::int64_t chunk_boundary(std::int64_t index, const T* out) const {
    const std::int64_t within = index % extent_[0];
    if (within == 0 || stride_[0][0] != 1 || index >= size()) return index;
    std::int64_t row_offset = 0;
    for (std::int64_t d = 1, rest = index / extent_[0]; d < rank_; rest /= extent_[d++])
      row_offset += rest % extent_[d] * stride_[d][0];
    constexpr std::int64_t kAlignment = 64;
    const auto address = reinterpret_cast<std::uintptr_t>(out + row_offset + within);
    const auto skip = static_cast<std::int64_t>((kAlignment - address % kAlignment) % kAlignment);
    return index - within + std::min(within + skip / std::int64_t{sizeof(T)}, extent_[0]);
  }

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

/// out = f(a, b) on a row where one input is broadcast (stride 0) and the
/// other contiguous, with the broadcast one as an Eigen Constant so that the
/// row vectorises. Returns false for any other pair of strides.
template <class F, class Out, class A, class B>
bool evaluate_broadcast_row(const F& f, Out&& out, RowInput<A> a, RowInput<B> b) {
  const Eigen::Index n = out.size();
  if (a.stride == 0 && b.stride == 1)
    out = f(Column<A>::Constant(n, *a.data), ColumnMap<const B>(b.data, n));
  else if (a.stride == 1 && b.stride == 0)
    out = f(ColumnMap<const A>(a.data, n), Column<B>::Constant(n, *b.data));
  else
    return false;
  return true;
}

/// out[i * out_stride] = f(inputs[i]...) for i < n, where f maps Eigen array
/// expressions to an expression of T. Rows with a contiguous output and
/// contiguous inputs run vectorised; so do rows of two-input ops (binary ops,
/// accumulations) with one input broadcast, like a bias row or a scalar. Other
/// rows become strided maps, which Eigen evaluates element by element. (More
/// vectorised combinations would multiply the instantiations of every op.)
template <class F, class T, class... Ins>
void evaluate_row(const F& f, T* out, std::int64_t out_stride, std::int64_t n,
                  RowInput<Ins>... ins) {
  if (out_stride == 1) {
    if (const bool contiguous = ((ins.stride == 1) && ...); contiguous) {
      ColumnMap<T>(out, n) = f(ColumnMap<const Ins>(ins.data, n)...);
      return;
    }
    if constexpr (sizeof...(Ins) == 2) {
      if (evaluate_broadcast_row(f, ColumnMap<T>(out, n), ins...)) return;
    }
  }
  StridedColumnMap<T>(out, n, Eigen::InnerStride<>(out_stride)) =
      f(StridedColumnMap<const Ins>(ins.data, n, Eigen::InnerStride<>(ins.stride))...);
}

/// out = f(ins...) over the rows of `rows`, whose operands are out and then
/// the inputs, each starting at the given pointer. Kernels that apply one
/// layout at many places (index ops) build the rows once.
template <class F, class T, class... Ins>
void map_rows(const F& f, const StridedRows<1 + sizeof...(Ins)>& rows, T* out, const Ins*... ins) {
  // One row function per bool_constant (see parallel_for_each's twin).
  const auto make_row = [&](auto) {
    return [&](const auto& offsets, const auto& strides, std::int64_t n) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        evaluate_row(f, out + offsets[0], strides[0], n,
                     RowInput<Ins>{ins + offsets[I + 1], strides[I + 1]}...);
      }
      (std::index_sequence_for<Ins...>{});
    };
  };
  rows.parallel_for_each(out, make_row(std::false_type{}), make_row(std::true_type{}));
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
  StridedRows rows(shape, *out.strides);
  rows.parallel_for_each(out.data, [&](const auto& offsets, const auto& strides, std::int64_t n) {
    T* const row = out.data + offsets[0];
    if (strides[0] == 1)
      ColumnMap<T>(row, n).setConstant(value);
    else
      StridedColumnMap<T>(row, n, Eigen::InnerStride<>(strides[0])).setConstant(value);
  });
}

}  // namespace tether::backend::cpu
