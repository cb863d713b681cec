// The dimension merging behind both backends' strided loops (the CPU's
// StridedRows, CUDA's StridedLayout): dimensions that every operand steps
// over as one become one, so contiguous tensors become a single dimension and
// a kernel's index arithmetic shrinks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tether/shape.h"

namespace tether::backend {

/// Merges the dimensions of `shape` for N operands, operand k having stride
/// operand_stride(k, d) along dimension d. Walking from the innermost
/// dimension outwards, it drops extent-1 dimensions and joins a dimension to
/// the previous one when every operand steps over it as if the two were one.
/// The merged extents and the operands' strides go to extent[r] and
/// stride[r][k], innermost first; returns their number r (0 for one element).
/// `shape` must have elements: merging the dimensions of a tensor without
/// any can overflow ([0, 2^63 - 1, 2]).
template <std::size_t N, class OperandStride, class Extents, class MergedStrides>
int merge_dimensions(const Shape& shape, const OperandStride& operand_stride, Extents& extent,
                     MergedStrides& stride) {
  int rank = 0;
  for (int d = shape.size() - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    const bool mergeable = rank > 0 && [&] {
      for (std::size_t k = 0; k < N; ++k)
        if (operand_stride(k, d) != stride[rank - 1][k] * extent[rank - 1]) return false;
      return true;
    }();
    if (mergeable) {
      extent[rank - 1] *= shape[d];
      continue;
    }
    extent[rank] = shape[d];
    for (std::size_t k = 0; k < N; ++k) stride[rank][k] = operand_stride(k, d);
    ++rank;
  }
  return rank;
}

}  // namespace tether::backend
