// Strided iteration for the CUDA kernels: a tensor's layout passed to a kernel
// by value, the launch of one thread per element, and the device helpers that
// several kernel families share.
//
// StridedLayout<N> describes N operands of one shape. Its constructor (host)
// merges the dimensions that are contiguous for every operand, as the CPU
// backend's StridedRows does (merge_dimensions, common/), so contiguous
// tensors become one dimension and a kernel's index arithmetic shrinks to a
// multiply. offsets() (device) turns a
// linear element index into each operand's element offset.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>

#include "../common/merge_dimensions.h"
#include "cuda_backend.h"
#include "tether/shape.h"

namespace tether::backend::cuda {

template <int N>
struct StridedLayout {
  static constexpr int kMaxDims = Shape::kMaxDims;

  int rank = 0;  ///< merged dimensions, innermost first
  std::int64_t numel = 0;
  std::int64_t extent[kMaxDims] = {};
  std::int64_t stride[kMaxDims][N] = {};

  /// The layout of `shape` for operands with these strides (in elements; 0
  /// along broadcast dimensions).
  StridedLayout(const Shape& shape, const std::array<Strides, N>& strides) : numel(shape.numel()) {
    // No elements, nothing to lay out (and no merging, which could overflow).
    if (numel == 0) return;
    rank = merge_dimensions<N>(
        shape, [&](std::size_t k, int d) { return strides[k][d]; }, extent, stride);
  }

  /// Element offsets of linear index i (row-major over the shape) in every operand.
  __device__ void offsets(std::int64_t i, std::int64_t (&out)[N]) const {
    for (int k = 0; k < N; ++k) out[k] = 0;
    if (rank == 1) {  // contiguous, or one strided dimension: no division needed
      for (int k = 0; k < N; ++k) out[k] = i * stride[0][k];
      return;
    }
    for (int d = 0; d < rank; ++d) {
      const std::int64_t coordinate = i % extent[d];
      i /= extent[d];
      for (int k = 0; k < N; ++k) out[k] += coordinate * stride[d][k];
    }
  }
};

/// max/min that return NaN when either side is NaN, as the CPU backend's do.
template <class T>
__host__ __device__ T nan_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    if (isnan(a) || isnan(b)) return a + b;
  return a > b ? a : b;
}
template <class T>
__host__ __device__ T nan_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    if (isnan(a) || isnan(b)) return a + b;
  return a < b ? a : b;
}

/// Threads per block of the element-wise kernels.
constexpr int kBlock = 256;

/// Blocks for a grid-stride loop over n elements (the loop covers any excess).
inline unsigned blocks_for(std::int64_t n) {
  return static_cast<unsigned>(std::clamp<std::int64_t>((n + kBlock - 1) / kBlock, 1, 1 << 20));
}

/// Calls f(offsets) for every element of `layout`, one thread per element.
template <int N, class F>
__global__ void for_each_element(StridedLayout<N> layout, F f) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < layout.numel;
       i += step) {
    std::int64_t offsets[N];
    layout.offsets(i, offsets);
    f(offsets);
  }
}

/// Runs f(offsets) over `layout` on `device`'s stream.
template <int N, class F>
void launch(Device device, const StridedLayout<N>& layout, const F& f) {
  if (layout.numel == 0) return;
  const cudaStream_t stream = activate(device);
  for_each_element<<<blocks_for(layout.numel), kBlock, 0, stream>>>(layout, f);
  check(cudaGetLastError(), "cuda: kernel launch");
}

}  // namespace tether::backend::cuda
