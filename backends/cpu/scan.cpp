// Scans (cumulative sums and products) along one dimension of any strides.
#include "../common/scan_step.h"
#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {

void CpuBackend::scan(ScanOp op, const Tensor& in, int dim, const Tensor& out) {
  if (out.numel() == 0) return;
  const std::int64_t extent = in.shape()[dim];
  const std::int64_t in_step = in.strides()[dim], out_step = out.strides()[dim];
  // Rows over the shape with `dim` cut to one element visit the start of
  // every line; each line is then scanned on its own.
  Shape starts = in.shape();
  starts[dim] = 1;
  visit_dtype(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T* const data = in.data_ptr<T>();
    T* const result = out.data_ptr<T>();
    StridedRows rows(starts, out.strides(), in.strides());
    rows.for_each([&](const auto& offsets, const auto& strides, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i)
        scan_line(op, data + offsets[1] + i * strides[1], in_step,
                  result + offsets[0] + i * strides[0], out_step, extent);
    });
  });
}

}  // namespace tether::backend::cpu
