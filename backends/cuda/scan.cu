// Scans (cumulative sums and products) along one dimension of any strides:
// one thread per line, which suits the short lines (sequence lengths, event
// sizes) that scans meet in practice.
#include "../common/kernel_support.h"  // visit_dtype
#include "../common/scan_step.h"
#include "strided.cuh"

namespace tether::backend::cuda {
namespace {

template <class T>
struct ScanLine {
  ScanOp op;
  T* out;
  const T* in;
  std::int64_t extent, in_step, out_step;
  __device__ void operator()(const std::int64_t (&at)[2]) const {
    scan_line(op, in + at[1], in_step, out + at[0], out_step, extent);
  }
};

}  // namespace

void CudaBackend::scan(ScanOp op, const Tensor& in, int dim, bool reverse, const Tensor& out) {
  if (out.numel() == 0) return;
  const std::int64_t extent = in.shape()[dim];
  const ScanDirection from(extent, in.strides()[dim], reverse);
  const ScanDirection to(extent, out.strides()[dim], reverse);
  Shape starts = in.shape();  // one element per line: where each line starts
  starts[dim] = 1;
  visit_dtype(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), StridedLayout<2>(starts, {out.strides(), in.strides()}),
           ScanLine<T>{op, out.data_ptr<T>() + to.first, in.data_ptr<T>() + from.first, extent,
                       from.step, to.step});
  });
}

}  // namespace tether::backend::cuda
