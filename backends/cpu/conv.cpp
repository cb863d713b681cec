// A convolution's patches: im2col copies each tap of each window into the
// columns one matrix product consumes, col2im sums them back (its adjoint,
// for the input's gradient). Columns are [C * kh * kw, N * L] with the batch
// inside the columns, so one product covers the whole batch.
//
// Both walk the channels in the outer loop, and a channel's taps touch only
// their own rows of the columns (im2col) and that channel's pixels (col2im):
// that loop, in CpuBackend::im2col and col2im, is where a parallel_for over
// the channels goes (col2im's zero fill first). Inside, each tap row is
// written front to back, image after image.
#include "../common/kernel_support.h"  // visit_floating
#include "cpu_backend.h"

namespace tether::backend::cpu {

namespace {

/// For output columns s in [0, out_width): the input column s * stride +
/// offset; returns the range [first, last) of s for which it lies in [0, width).
std::pair<std::int64_t, std::int64_t> inside_columns(std::int64_t offset, std::int64_t stride,
                                                     std::int64_t width, std::int64_t out_width) {
  const auto ceil_div = [](std::int64_t a, std::int64_t b) { return a > 0 ? (a + b - 1) / b : 0; };
  const std::int64_t first = std::min(out_width, ceil_div(-offset, stride));
  const std::int64_t last = std::clamp(ceil_div(width - offset, stride), first, out_width);
  return {first, last};
}

/// Calls visit(pixels, taps, count, tap_step) for every run of the taps of
/// channel c along an output row that reads inside the image: `pixels` is the
/// input's offset of the first pixel read (stride `tap_step` after it),
/// `taps` the offset of the first tap in the columns (contiguous after it);
/// padding taps are passed to pad(taps, count). Runs come in the columns'
/// order, so each tap row is written front to back.
template <class Visit, class Pad>
void for_each_run(const ConvGeometry& g, std::int64_t c, Visit visit, Pad pad) {
  const std::int64_t positions = g.out_height * g.out_width;
  const std::int64_t columns = g.batch * positions;
  for (std::int64_t i = 0; i < g.kernel_h; ++i)
    for (std::int64_t j = 0; j < g.kernel_w; ++j) {
      const std::int64_t tap_row = (c * g.kernel_h + i) * g.kernel_w + j;
      const std::int64_t col_offset = j * g.dilation_w - g.pad_w;
      const auto [first, last] = inside_columns(col_offset, g.stride_w, g.width, g.out_width);
      for (std::int64_t n = 0; n < g.batch; ++n)
        for (std::int64_t r = 0; r < g.out_height; ++r) {
          const std::int64_t taps = tap_row * columns + n * positions + r * g.out_width;
          const std::int64_t row = r * g.stride_h + i * g.dilation_h - g.pad_h;
          if (row < 0 || row >= g.height) {
            pad(taps, g.out_width);
            continue;
          }
          pad(taps, first);
          pad(taps + last, g.out_width - last);
          const std::int64_t pixels =
              ((n * g.channels + c) * g.height + row) * g.width + first * g.stride_w + col_offset;
          visit(pixels, taps + first, last - first, g.stride_w);
        }
    }
}

}  // namespace

void CpuBackend::im2col(const Tensor& in, const ConvGeometry& geometry, const Tensor& out) {
  visit_floating("im2col", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T* const x = in.data_ptr<T>();
    T* const cols = out.data_ptr<T>();
    for (std::int64_t c = 0; c < geometry.channels; ++c)
      for_each_run(
          geometry, c,
          [&](std::int64_t pixels, std::int64_t taps, std::int64_t count, std::int64_t step) {
            for (std::int64_t k = 0; k < count; ++k) cols[taps + k] = x[pixels + k * step];
          },
          [&](std::int64_t taps, std::int64_t count) {
            for (std::int64_t k = 0; k < count; ++k) cols[taps + k] = T(0);
          });
  });
}

void CpuBackend::col2im(const Tensor& columns, const ConvGeometry& geometry, const Tensor& out) {
  visit_floating("col2im", columns.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T* const cols = columns.data_ptr<T>();
    T* const x = out.data_ptr<T>();
    std::fill(x, x + out.numel(), T(0));
    for (std::int64_t c = 0; c < geometry.channels; ++c)
      for_each_run(
          geometry, c,
          [&](std::int64_t pixels, std::int64_t taps, std::int64_t count, std::int64_t step) {
            for (std::int64_t k = 0; k < count; ++k) x[pixels + k * step] += cols[taps + k];
          },
          [](std::int64_t, std::int64_t) {});
  });
}

}  // namespace tether::backend::cpu
