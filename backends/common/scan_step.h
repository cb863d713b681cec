// The step of a scan (cumsum, cumprod), shared by the CPU kernel and the CUDA
// functor, so both backends combine elements alike.
#pragma once

#include <cstdint>
#include <type_traits>

#include "integer_arithmetic.h"  // TETHER_HOST_DEVICE, the Wrapping functors
#include "tether/backend/backend.h"

namespace tether::backend {

/// acc + x or acc * x; integers wrap around on overflow, as in PyTorch.
template <class T>
TETHER_HOST_DEVICE T scan_step(ScanOp op, T acc, T x) {
  if constexpr (std::is_integral_v<T>)
    return op == ScanOp::sum ? WrappingAdd()(acc, x) : WrappingMul()(acc, x);
  else
    return op == ScanOp::sum ? acc + x : acc * x;
}

/// Writes the scan of the `extent` elements at `in` (`in_step` apart) to `out`
/// (`out_step` apart): one line of a scan, on the host or on the device. A
/// reverse scan is one from the last element with negated steps.
template <class T>
TETHER_HOST_DEVICE void scan_line(ScanOp op, const T* in, std::int64_t in_step, T* out,
                                  std::int64_t out_step, std::int64_t extent) {
  T acc = in[0];
  out[0] = acc;
  for (std::int64_t k = 1; k < extent; ++k) {
    acc = scan_step(op, acc, in[k * in_step]);
    out[k * out_step] = acc;
  }
}

/// Where a line of `extent` elements `step` apart starts, and its step, when
/// scanned forwards or (`reverse`) backwards: the offset of its first element
/// visited, and the step to the next.
struct ScanDirection {
  std::int64_t first, step;
  TETHER_HOST_DEVICE ScanDirection(std::int64_t extent, std::int64_t step, bool reverse)
      : first(reverse ? (extent - 1) * step : 0), step(reverse ? -step : step) {}
};

}  // namespace tether::backend
