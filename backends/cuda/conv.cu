// A convolution's patches on the GPU, as cpu/conv.cpp's (same layout):
// im2col runs one thread per element of the columns, each reading its one
// pixel; col2im one thread per input pixel, each summing the taps that read
// it, so that no two threads write one element and no atomics are needed.
// max_pool2d runs one thread per output element.
#include "../common/kernel_support.h"  // visit_floating
#include "../common/max_pool_window.h"
#include "strided.cuh"

namespace tether::backend::cuda {
namespace {

template <class T>
struct Im2col {
  const T* in;
  T* columns;
  ConvGeometry g;

  /// at[0]: the element's offset in the contiguous columns.
  __device__ void operator()(const std::int64_t (&at)[1]) const {
    const std::int64_t positions = g.out_height * g.out_width;
    const std::int64_t column = at[0] % (g.batch * positions);
    const std::int64_t tap_row = at[0] / (g.batch * positions);
    const std::int64_t n = column / positions, r = column % positions / g.out_width,
                       s = column % g.out_width;
    const std::int64_t j = tap_row % g.kernel_w, i = tap_row / g.kernel_w % g.kernel_h,
                       c = tap_row / (g.kernel_w * g.kernel_h);
    const std::int64_t row = r * g.stride_h + i * g.dilation_h - g.pad_h;
    const std::int64_t col = s * g.stride_w + j * g.dilation_w - g.pad_w;
    const bool inside = row >= 0 && row < g.height && col >= 0 && col < g.width;
    columns[at[0]] = inside ? in[((n * g.channels + c) * g.height + row) * g.width + col] : T(0);
  }
};

template <class T>
struct Col2im {
  const T* columns;
  T* out;
  ConvGeometry g;

  /// at[0]: the pixel's offset in the contiguous [N, C, H, W] output.
  __device__ void operator()(const std::int64_t (&at)[1]) const {
    const std::int64_t x = at[0] % g.width, y = at[0] / g.width % g.height;
    const std::int64_t c = at[0] / (g.width * g.height) % g.channels;
    const std::int64_t n = at[0] / (g.width * g.height * g.channels);
    const std::int64_t positions = g.out_height * g.out_width;
    T sum = 0;
    for (std::int64_t i = 0; i < g.kernel_h; ++i) {
      const std::int64_t r_stride = y + g.pad_h - i * g.dilation_h;  // r * stride_h
      if (r_stride < 0 || r_stride % g.stride_h != 0 || r_stride / g.stride_h >= g.out_height)
        continue;
      for (std::int64_t j = 0; j < g.kernel_w; ++j) {
        const std::int64_t s_stride = x + g.pad_w - j * g.dilation_w;  // s * stride_w
        if (s_stride < 0 || s_stride % g.stride_w != 0 || s_stride / g.stride_w >= g.out_width)
          continue;
        const std::int64_t tap_row = (c * g.kernel_h + i) * g.kernel_w + j;
        sum += columns[tap_row * g.batch * positions + n * positions +
                       r_stride / g.stride_h * g.out_width + s_stride / g.stride_w];
      }
    }
    out[at[0]] = sum;
  }
};

/// One thread per output element, scanning its window.
template <class T>
struct MaxPool {
  const T* in;
  T* out;
  std::int64_t* indices;
  ConvGeometry g;

  /// at[0]: the element's offset in the contiguous [N, C, H_out, W_out] output.
  __device__ void operator()(const std::int64_t (&at)[1]) const {
    const std::int64_t positions = g.out_height * g.out_width;
    max_pool_window(in + at[0] / positions * g.height * g.width, g, at[0] % positions / g.out_width,
                    at[0] % g.out_width, out + at[0], indices + at[0]);
  }
};

}  // namespace

void CudaBackend::max_pool2d(const Tensor& in, const ConvGeometry& geometry, const Tensor& out,
                             const Tensor& indices) {
  visit_floating("max_pool2d", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), StridedLayout<1>(out.shape(), {out.strides()}),
           MaxPool<T>{in.data_ptr<T>(), out.data_ptr<T>(), indices.data_ptr<std::int64_t>(),
                      geometry});
  });
}

void CudaBackend::im2col(const Tensor& in, const ConvGeometry& geometry, const Tensor& out) {
  visit_floating("im2col", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), StridedLayout<1>(out.shape(), {out.strides()}),
           Im2col<T>{in.data_ptr<T>(), out.data_ptr<T>(), geometry});
  });
}

void CudaBackend::col2im(const Tensor& columns, const ConvGeometry& geometry, const Tensor& out) {
  visit_floating("col2im", columns.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), StridedLayout<1>(out.shape(), {out.strides()}),
           Col2im<T>{columns.data_ptr<T>(), out.data_ptr<T>(), geometry});
  });
}

}  // namespace tether::backend::cuda
