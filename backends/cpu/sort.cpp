// sort: the first k elements of each slice along a dimension, in order, with
// their positions (sort, argsort and topk all call it). Each slice's positions
// are ordered by std::sort, or by std::partial_sort when only the first k are
// wanted, under the total order of sort_order.h, so equal elements keep their
// order whichever algorithm runs.
#include <algorithm>
#include <numeric>
#include <vector>

#include "../common/sort_order.h"
#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {

void CpuBackend::sort(const Tensor& in, int dim, std::int64_t k, bool descending,
                      const Tensor& values, const Tensor& indices) {
  if (values.numel() == 0) return;
  const std::int64_t extent = in.shape()[dim], step = in.strides()[dim];
  const std::int64_t out_step = values.strides()[dim];
  Shape slices = in.shape();
  slices[dim] = 1;
  visit_dtype(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    std::vector<std::int64_t> order(extent);
    const auto sort_slice = [&](const T* slice, T* out_values, std::int64_t* out_indices) {
      std::iota(order.begin(), order.end(), 0);
      const auto before = [&](std::int64_t a, std::int64_t b) {
        return sorts_before(slice[a * step], a, slice[b * step], b, descending);
      };
      if (k == extent)
        std::sort(order.begin(), order.end(), before);
      else
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (std::int64_t j = 0; j < k; ++j) {
        out_values[j * out_step] = slice[order[j] * step];
        out_indices[j * out_step] = order[j];
      }
    };
    const T* const data = in.data_ptr<T>();
    T* const value_data = values.data_ptr<T>();
    std::int64_t* const index_data = indices.data_ptr<std::int64_t>();
    // Rows over the slices' first elements: one slice per element of a row.
    StridedRows rows(slices, in.strides(), values.strides(), indices.strides());
    rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i)
        sort_slice(data + offsets[0] + i * strides[0], value_data + offsets[1] + i * strides[1],
                   index_data + offsets[2] + i * strides[2]);
    });
  });
}

}  // namespace tether::backend::cpu
