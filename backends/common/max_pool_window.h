// One max-pooling window, tap by tap, shared by the CPU kernel (for the
// windows at the image's edges) and the CUDA functor (for every window).
#pragma once

#include <cstdint>

#include "integer_arithmetic.h"  // TETHER_HOST_DEVICE
#include "tether/backend/backend.h"

namespace tether::backend {

/// Whether `value` replaces `largest` as a window's maximum: as PyTorch's, the
/// first largest wins, but a NaN beats anything, even a NaN. A bitwise or, not
/// ||, so that a caller can select instead of branching on data.
template <class T>
TETHER_HOST_DEVICE bool beats(T value, T largest) {
  return (value > largest) | (value != value);
}

/// The largest element of the window at output (r, s) of `plane` (one [H, W]
/// image of g), padding skipped, into *out, and its index in the plane into *index.
template <class T>
TETHER_HOST_DEVICE void max_pool_window(const T* plane, const ConvGeometry& g, std::int64_t r,
                                        std::int64_t s, T* out, std::int64_t* index) {
  std::int64_t best = -1;
  T largest = T(0);
  for (std::int64_t i = 0; i < g.kernel_h; ++i) {
    const std::int64_t row = r * g.stride_h + i * g.dilation_h - g.pad_h;
    if (row < 0 || row >= g.height) continue;
    for (std::int64_t j = 0; j < g.kernel_w; ++j) {
      const std::int64_t col = s * g.stride_w + j * g.dilation_w - g.pad_w;
      if (col < 0 || col >= g.width) continue;
      const T value = plane[row * g.width + col];
      if (best < 0 || beats(value, largest)) {
        best = row * g.width + col;
        largest = value;
      }
    }
  }
  *out = largest;
  *index = best;
}

}  // namespace tether::backend
