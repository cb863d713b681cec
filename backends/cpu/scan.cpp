// Scans (cumulative sums and products) along one dimension of any strides.
// A contiguous line is scanned on its own, in order. Lines that are strided
// along the scanned dim are scanned side by side, kLinesAtOnce of them, one
// step of each per pass: neighbouring lines are then read in order and their
// independent steps overlap in the pipeline, where one such line alone would
// touch a new cache line per element and wait on each addition. (Contiguous
// lines side by side would be far apart, and a block of them can fall into
// one cache set: 64 lines of 512 floats take 10x longer than one at a time.)
#include <algorithm>

#include "../common/scan_step.h"
#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {
namespace {

constexpr std::int64_t kLinesAtOnce = 64;

}  // namespace

void CpuBackend::scan(ScanOp op, const Tensor& in, int dim, bool reverse, const Tensor& out) {
  if (out.numel() == 0) return;
  const std::int64_t extent = in.shape()[dim];
  const ScanDirection from(extent, in.strides()[dim], reverse);
  const ScanDirection to(extent, out.strides()[dim], reverse);
  // Rows over the shape with `dim` cut to one element visit the start of
  // every line.
  Shape starts = in.shape();
  starts[dim] = 1;
  visit_dtype(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T* const data = in.data_ptr<T>() + from.first;
    T* const result = out.data_ptr<T>() + to.first;
    StridedRows rows(starts, out.strides(), in.strides());
    rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t n) {
      if (from.step == 1 || from.step == -1) {  // contiguous lines: one at a time
        for (std::int64_t i = 0; i < n; ++i)
          scan_line(op, data + offsets[1] + i * strides[1], from.step,
                    result + offsets[0] + i * strides[0], to.step, extent);
        return;
      }
      for (std::int64_t first = 0; first < n; first += kLinesAtOnce) {
        const std::int64_t lines = std::min(kLinesAtOnce, n - first);
        const T* const x = data + offsets[1] + first * strides[1];
        T* const y = result + offsets[0] + first * strides[0];
        for (std::int64_t i = 0; i < lines; ++i) y[i * strides[0]] = x[i * strides[1]];
        for (std::int64_t k = 1; k < extent; ++k) {
          const T* const row = x + k * from.step;
          T* const target = y + k * to.step;
          const T* const previous = target - to.step;
          for (std::int64_t i = 0; i < lines; ++i)
            target[i * strides[0]] = scan_step(op, previous[i * strides[0]], row[i * strides[1]]);
        }
      }
    });
  });
}

}  // namespace tether::backend::cpu
