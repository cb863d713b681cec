// Index kernels. index_select/index_add move whole slices along `dim`, so each
// slice is one element-wise copy or accumulation over a layout built once;
// gather/scatter_add pick one element per index. Indices are checked before
// anything is written, so a bad index leaves the output untouched.
#include <algorithm>

#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {
namespace {

/// Throws IndexError naming `op` unless every element of `index` lies in
/// [0, size), size being the extent of dimension `dim` it indexes.
void check_indices(const char* op, const Tensor& index, int dim, std::int64_t size) {
  const std::int64_t* const data = index.data_ptr<std::int64_t>();
  StridedRows rows(index.shape(), index.strides());
  rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t value = data[offsets[0] + i * strides[0]];
      if (value < 0 || value >= size)
        fail<IndexError>(op, ": index ", value, " is out of range for dimension ", dim, " of size ",
                         size);
    }
  });
}

Shape without_dim(Shape shape, int dim) {
  shape.erase(dim);
  return shape;
}

/// The entries of a rank-1 i64 index tensor.
class IndexList {
 public:
  explicit IndexList(const Tensor& index)
      : data_(index.data_ptr<std::int64_t>()),
        stride_(index.dim() == 0 ? 0 : index.strides()[0]),
        size_(index.numel()) {}

  std::int64_t size() const { return size_; }
  std::int64_t operator[](std::int64_t i) const { return data_[i * stride_]; }

 private:
  const std::int64_t* data_;
  std::int64_t stride_;
  std::int64_t size_;
};

/// Calls f(indexed_element, element) for every position p of `index`: element
/// is `other`'s element at p, indexed_element is `indexed`'s element at p with
/// coordinate `dim` replaced by index[p]. Parallel splits the positions among
/// the threads: only for an f that writes `other`'s element (gather), since
/// two positions may index the same element of `indexed`.
template <bool Parallel, class Indexed, class Other, class F>
void for_each_indexed(const Tensor& index, int dim, Operand<Indexed> indexed, Operand<Other> other,
                      const F& f) {
  Strides indexed_strides = *indexed.strides;
  const std::int64_t step = indexed_strides[dim];
  indexed_strides[dim] = 0;
  const std::int64_t* const indices = index.data_ptr<std::int64_t>();
  StridedRows rows(index.shape(), index.strides(), indexed_strides, *other.strides);
  const auto row = [&](const auto& offsets, const auto& strides, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t target = indices[offsets[0] + i * strides[0]];
      f(indexed.data[offsets[1] + i * strides[1] + target * step],
        other.data[offsets[2] + i * strides[2]]);
    }
  };
  if constexpr (Parallel) {
    rows.parallel_for_each(indices, row);  // element by element: any chunk boundary is fine
  } else {
    rows.for_each(row);
  }
}

/// The grain, in slices, of a loop over slices of `slice_size` elements.
std::int64_t slice_grain(std::int64_t slice_size) {
  return kParallelGrain / std::max<std::int64_t>(slice_size, 1) + 1;
}

}  // namespace

void CpuBackend::index_select(const Tensor& in, int dim, const Tensor& index, const Tensor& out) {
  check_indices("index_select", index, dim, in.shape()[dim]);
  const IndexList indices(index);
  visit_dtype_or_bool(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const StridedRows slice(without_dim(out.shape(), dim), without_dim(out.strides(), dim),
                            without_dim(in.strides(), dim));
    T* const out_data = out.data_ptr<T>();
    const T* const in_data = in.data_ptr<T>();
    // Each index writes its own slice of out: the threads split the indices
    // (and map_rows splits a slice when there are too few indices to split).
    parallel_for(
        0, indices.size(), slice_grain(slice.size()), [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i)
            map_rows([](const auto& x) { return x; }, slice, out_data + i * out.strides()[dim],
                     in_data + indices[i] * in.strides()[dim]);
        });
  });
}

void CpuBackend::index_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) {
  check_indices("index_add", index, dim, out.shape()[dim]);
  const IndexList indices(index);
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const Strides out_strides = without_dim(out.strides(), dim);
    const StridedRows slice(without_dim(src.shape(), dim), out_strides, out_strides,
                            without_dim(src.strides(), dim));
    T* const out_data = out.data_ptr<T>();
    const T* const src_data = src.data_ptr<T>();
    // Indices may repeat, so the threads split each slice instead: every
    // element of out still takes its additions in index order, as on one thread.
    parallel_for(0, slice.size(), slice_grain(indices.size()),
                 [&](std::int64_t begin, std::int64_t end) {
                   for (std::int64_t i = 0; i < indices.size(); ++i) {
                     T* const target = out_data + indices[i] * out.strides()[dim];
                     const T* const source = src_data + i * src.strides()[dim];
                     slice.for_each_in(
                         begin, end, [&](const auto& offsets, const auto& strides, std::int64_t n) {
                           evaluate_row([](const auto& acc, const auto& x) { return acc + x; },
                                        target + offsets[0], strides[0], n,
                                        RowInput<T>{target + offsets[1], strides[1]},
                                        RowInput<T>{source + offsets[2], strides[2]});
                         });
                   }
                 });
  });
}

void CpuBackend::gather(const Tensor& in, int dim, const Tensor& index, const Tensor& out) {
  check_indices("gather", index, dim, in.shape()[dim]);
  visit_dtype_or_bool(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    for_each_indexed<true>(index, dim, operand<const T>(in), operand<T>(out),
                           [](const T& source, T& result) { result = source; });
  });
}

void CpuBackend::scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) {
  check_indices("scatter_add", index, dim, out.shape()[dim]);
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    for_each_indexed<false>(index, dim, operand<T>(out), operand<const T>(src),
                            [](T& result, const T& source) { result += source; });
  });
}

}  // namespace tether::backend::cpu
