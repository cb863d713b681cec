// sort: the first k elements of each slice along a dimension, in order, with
// their positions, as the CPU's (cpu/sort.cpp) and in the same total order
// (common/sort_order.h). Kept simple: one thread per slice, which inserts each
// element of its slice into the k kept so far, O(extent * k) per slice. That
// suits the short slices attention and sampling sort; a long sort would want
// a segmented radix sort (CUB) instead.
#include "../common/kernel_support.h"  // visit_dtype
#include "../common/sort_order.h"
#include "strided.cuh"

namespace tether::backend::cuda {
namespace {

template <class T>
struct SortSlice {
  const T* in;
  T* values;
  std::int64_t* indices;
  std::int64_t extent, step, k, out_step;
  bool descending;

  __device__ void operator()(const std::int64_t (&at)[3]) const {
    const T* const slice = in + at[0];
    T* const kept_values = values + at[1];
    std::int64_t* const kept_indices = indices + at[2];
    std::int64_t kept = 0;
    for (std::int64_t j = 0; j < extent; ++j) {
      const T x = slice[j * step];
      // Move the kept elements that x comes before one place down (the last
      // one falls off once k are kept), then put x in the gap.
      std::int64_t p = kept < k ? kept++ : k;
      while (p > 0 && sorts_before(x, j, kept_values[(p - 1) * out_step],
                                   kept_indices[(p - 1) * out_step], descending)) {
        if (p < k) {
          kept_values[p * out_step] = kept_values[(p - 1) * out_step];
          kept_indices[p * out_step] = kept_indices[(p - 1) * out_step];
        }
        --p;
      }
      if (p < k) {
        kept_values[p * out_step] = x;
        kept_indices[p * out_step] = j;
      }
    }
  }
};

}  // namespace

void CudaBackend::sort(const Tensor& in, int dim, std::int64_t k, bool descending,
                       const Tensor& values, const Tensor& indices) {
  if (values.numel() == 0) return;
  Shape slices = in.shape();
  slices[dim] = 1;
  visit_dtype(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(values.device(),
           StridedLayout<3>(slices, {in.strides(), values.strides(), indices.strides()}),
           SortSlice<T>{in.data_ptr<T>(), values.data_ptr<T>(), indices.data_ptr<std::int64_t>(),
                        in.shape()[dim], in.strides()[dim], k, values.strides()[dim], descending});
  });
}

}  // namespace tether::backend::cuda
