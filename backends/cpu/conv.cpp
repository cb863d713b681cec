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
//
// The fused conv2d and its backward use the same two walks on chunks of a few
// images: a chunk's columns (a few hundred KiB) stay in the core's cache from
// the im2col that writes them to the product that reads them, where the whole
// batch's columns would go out to memory and back. Chunks run side by side on
// the pool, each product on its own thread, so the split follows the batch
// however few output channels there are. max_pool2d keeps the index of each
// window's maximum, so its backward is a scatter of the gradient.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../common/kernel_support.h"  // visit_floating
#include "../common/max_pool_window.h"

#include "cpu_backend.h"
#include "gemm.h"
#include "tether/backend/parallel.h"

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

/// Calls move(k, n) for pieces [k, k + n) covering [0, count), n a constant
/// 8, 4, 2 or 1 (std::integral_constant). The runs of a small image are a few
/// elements long: a memcpy or memset of constant size is a few vector moves,
/// where the library call a plain loop compiles to costs more than the run.
template <class Move>
void in_fixed_pieces(std::int64_t count, Move move) {
  std::int64_t k = 0;
  for (; k + 8 <= count; k += 8) move(k, std::integral_constant<std::int64_t, 8>{});
  if (count - k >= 4) {
    move(k, std::integral_constant<std::int64_t, 4>{});
    k += 4;
  }
  if (count - k >= 2) {
    move(k, std::integral_constant<std::int64_t, 2>{});
    k += 2;
  }
  if (count - k >= 1) move(k, std::integral_constant<std::int64_t, 1>{});
}

/// The sum of the `count` elements at `from`, in kLanes interleaved partial
/// sums: independent additions, which the compiler may put side by side in
/// vectors (one running sum is a chain of dependent additions, a few cycles each).
template <class T>
T sum_run(const T* from, std::int64_t count) {
  constexpr std::int64_t kLanes = 16;
  T lanes[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes)
    for (std::int64_t l = 0; l < kLanes; ++l) lanes[l] += from[i + l];
  for (; i < count; ++i) lanes[0] += from[i];
  T sum = 0;
  for (const T lane : lanes) sum += lane;
  return sum;
}

/// Whether each output row of g is an input row, shifted: stride 1 and an
/// output as wide as the input (a "same" convolution). Then the taps of one
/// channel, image and kernel offset read the image as one contiguous block.
bool shifted_rows(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.out_width == g.width;
}

/// For shifted_rows(g): calls fn(taps, plane, offset, first, last, shift)
/// for every tap (i, j) of channel c and image n, where taps is the offset
/// of the image's L columns in the tap's row and plane the offset of its
/// input plane: output position p of rows [first, last) reads pixel p +
/// offset of the plane, offset = (i * dilation_h - pad_h) * W + shift and
/// shift = j * dilation_w - pad_w, unless its column s = p % W has s + shift
/// outside [0, W) (then it reads padding). The other rows read padding.
template <class Fn>
void for_each_shifted_tap(const ConvGeometry& g, std::int64_t c, Fn fn) {
  const std::int64_t positions = g.out_height * g.out_width;
  for (std::int64_t i = 0; i < g.kernel_h; ++i) {
    const std::int64_t row_shift = i * g.dilation_h - g.pad_h;
    const std::int64_t first = std::clamp(-row_shift, std::int64_t{0}, g.out_height);
    const std::int64_t last = std::clamp(g.height - row_shift, first, g.out_height);
    for (std::int64_t j = 0; j < g.kernel_w; ++j) {
      const std::int64_t tap_row = (c * g.kernel_h + i) * g.kernel_w + j;
      const std::int64_t shift = j * g.dilation_w - g.pad_w;
      for (std::int64_t n = 0; n < g.batch; ++n)
        fn((tap_row * g.batch + n) * positions, (n * g.channels + c) * g.height * g.width,
           row_shift * g.width + shift, first, last, shift);
    }
  }
}

/// Zeroes, in rows [first, last) of one image's columns `cols` (W a row) of
/// a tap whose columns are shifted by `shift`, the columns the shift pushes
/// outside the image.
template <class T>
void zero_shifted_out(T* cols, std::int64_t first, std::int64_t last, std::int64_t shift,
                      std::int64_t width) {
  const std::int64_t outside = std::min(std::abs(shift), width);
  T* const start = cols + (shift < 0 ? 0 : width - outside);
  // Usually one column (a 3-wide kernel): a store per row, not a call to memset.
  if (outside == 1)
    for (std::int64_t r = first; r < last; ++r) start[r * width] = T(0);
  else
    for (std::int64_t r = first; r < last; ++r) std::fill_n(start + r * width, outside, T(0));
}

/// The columns of x's images (all of g's batch) into `cols`.
template <class T>
void im2col_typed(const T* x, const ConvGeometry& g, T* cols) {
  if (shifted_rows(g)) {
    const std::int64_t width = g.width, plane = g.height * g.width;
    const std::int64_t positions = g.out_height * width;
    for (std::int64_t c = 0; c < g.channels; ++c)
      for_each_shifted_tap(g, c,
                           [&](std::int64_t taps, std::int64_t image, std::int64_t offset,
                               std::int64_t first, std::int64_t last, std::int64_t shift) {
                             T* const to = cols + taps;
                             std::fill(to, to + first * width, T(0));
                             std::fill(to + last * width, to + positions, T(0));
                             // Rows [first, last) in one copy, clipped to the image's own plane:
                             // what the clip leaves out, and what the copy brings in from the next
                             // or previous row, lies in the columns that the shift pushes outside.
                             const std::int64_t begin = std::max(first * width, -offset);
                             const std::int64_t end = std::min(last * width, plane - offset);
                             if (begin < end)
                               std::copy(x + image + offset + begin, x + image + offset + end,
                                         to + begin);
                             zero_shifted_out(to, first, last, shift, width);
                           });
    return;
  }
  for (std::int64_t c = 0; c < g.channels; ++c)
    for_each_run(
        g, c,
        [&](std::int64_t pixels, std::int64_t taps, std::int64_t count, std::int64_t step) {
          if (step == 1)
            in_fixed_pieces(count, [&](std::int64_t k, auto n) {
              std::memcpy(cols + taps + k, x + pixels + k, n * sizeof(T));
            });
          else
            for (std::int64_t k = 0; k < count; ++k) cols[taps + k] = x[pixels + k * step];
        },
        [&](std::int64_t taps, std::int64_t count) {
          in_fixed_pieces(count, [&](std::int64_t k, auto n) {
            std::memset(cols + taps + k, 0, n * sizeof(T));  // all-zero bytes: +0.0
          });
        });
}

/// The images of g's batch summed back from `cols` into x, which is zeroed first.
template <class T>
void col2im_typed(const T* cols, const ConvGeometry& g, T* x) {
  std::fill_n(x, g.batch * g.channels * g.height * g.width, T(0));
  for (std::int64_t c = 0; c < g.channels; ++c)
    for_each_run(
        g, c,
        [&](std::int64_t pixels, std::int64_t taps, std::int64_t count, std::int64_t step) {
          T* const to = x + pixels;
          const T* const from = cols + taps;
          if (step == 1)
            for (std::int64_t k = 0; k < count; ++k) to[k] += from[k];
          else
            for (std::int64_t k = 0; k < count; ++k) to[k * step] += from[k];
        },
        [](std::int64_t, std::int64_t) {});
}

/// col2im_typed for columns the caller owns and no longer needs: where
/// shifted_rows(g), the columns of taps that read padding are zeroed and
/// each tap's block then added to its image whole, as im2col_typed copies it
/// (adding a zero changes no sum), instead of row by row.
template <class T>
void col2im_consuming(T* cols, const ConvGeometry& g, T* x) {
  if (!shifted_rows(g)) return col2im_typed(cols, g, x);
  std::fill_n(x, g.batch * g.channels * g.height * g.width, T(0));
  const std::int64_t width = g.width, plane = g.height * g.width;
  for (std::int64_t c = 0; c < g.channels; ++c)
    for_each_shifted_tap(g, c,
                         [&](std::int64_t taps, std::int64_t image, std::int64_t offset,
                             std::int64_t first, std::int64_t last, std::int64_t shift) {
                           T* const from = cols + taps;
                           zero_shifted_out(from, first, last, shift, width);
                           const std::int64_t begin = std::max(first * width, -offset);
                           const std::int64_t end = std::min(last * width, plane - offset);
                           T* const to = x + image + offset;
                           for (std::int64_t p = begin; p < end; ++p) to[p] += from[p];
                         });
}

/// A chunk's columns are kept to about this many bytes, so that they are
/// still in the core's L2 cache when the product reads them.
constexpr std::int64_t kChunkColumnBytes = std::int64_t{256} << 10;
/// Multiply-adds a chunk must hold to repay handing it to another thread.
constexpr std::int64_t kChunkGrainWork = std::int64_t{1} << 18;

/// How a convolution of geometry g with `groups` is cut into chunks of images,
/// and the extents every chunk works with.
struct ConvPlan {
  const ConvGeometry& g;
  std::int64_t groups, out_channels;
  std::int64_t positions;      ///< L = H_out * W_out
  std::int64_t group_rows;     ///< K = C / groups * kh * kw, a group's rows of the columns
  std::int64_t group_outputs;  ///< O / groups
  std::int64_t chunks;

  ConvPlan(const ConvGeometry& geometry, std::int64_t groups_, std::int64_t out_channels_,
           std::size_t element_bytes)
      : g(geometry),
        groups(groups_),
        out_channels(out_channels_),
        positions(g.out_height * g.out_width),
        group_rows(g.channels / groups * g.kernel_h * g.kernel_w),
        group_outputs(out_channels / groups) {
    const std::int64_t column_bytes =
        groups * group_rows * positions * static_cast<std::int64_t>(element_bytes);
    const std::int64_t cache_images =
        std::max<std::int64_t>(1, kChunkColumnBytes / std::max<std::int64_t>(column_bytes, 1));
    const std::int64_t image_work = std::max<std::int64_t>(
        1, out_channels * group_rows * positions);  // multiply-adds per image
    const std::int64_t grain = std::max<std::int64_t>(1, kChunkGrainWork / image_work);
    const std::int64_t split = parallel_chunks(0, g.batch, grain);
    chunks = std::max(split, g.batch == 0 ? 0 : (g.batch + cache_images - 1) / cache_images);
    // Cache-sized chunks that do not divide among the threads leave one idle
    // at the end (11 chunks on 2 threads: 6 after 5), so a split rounds up to
    // a multiple of the thread count.
    const std::int64_t threads = cpu_threads();
    if (split > 1) chunks = std::min(g.batch, (chunks + threads - 1) / threads * threads);
  }

  /// g restricted to the images [first, first + count).
  ConvGeometry images(std::int64_t count) const {
    ConvGeometry sub = g;
    sub.batch = count;
    return sub;
  }
  std::int64_t image_pixels() const { return g.channels * g.height * g.width; }
  std::int64_t image_outputs() const { return out_channels * positions; }

  /// Calls fn(chunk, first image, image count) for every chunk, on the pool.
  template <class F>
  void for_each(const F& fn) const {
    for_each_chunk(0, g.batch, chunks,
                   [&](std::int64_t chunk, std::int64_t first, std::int64_t last) {
                     fn(chunk, first, last - first);
                   });
  }
};

/// A buffer of at least `size` elements that lives as long as the thread, so
/// that every chunk reuses the same (cached) memory.
template <class T, int kSlot>
T* scratch(std::int64_t size) {
  thread_local std::vector<T> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < size) buffer.resize(size);
  return buffer.data();
}

template <class T>
void conv2d_typed(const T* x, const T* weight, const T* bias, const ConvPlan& p, T* out) {
  p.for_each([&](std::int64_t, std::int64_t first, std::int64_t count) {
    const std::int64_t columns = count * p.positions;
    T* const cols = scratch<T, 0>(p.groups * p.group_rows * columns);
    T* const y = scratch<T, 1>(p.out_channels * columns);
    im2col_typed(x + first * p.image_pixels(), p.images(count), cols);
    // Per group: y_g [O / groups, columns] = weight_g [O / groups, K] @ cols_g [K, columns].
    for (std::int64_t group = 0; group < p.groups; ++group)
      serial_gemm<T>({weight + group * p.group_outputs * p.group_rows, p.group_rows},
                     {cols + group * p.group_rows * columns, columns}, p.group_outputs, columns,
                     p.group_rows, y + group * p.group_outputs * columns);
    // y is [O, images, L]; out wants [images, O, L], with the bias added on the way.
    for (std::int64_t n = 0; n < count; ++n)
      for (std::int64_t o = 0; o < p.out_channels; ++o) {
        const T* from = y + o * columns + n * p.positions;
        T* to = out + (first + n) * p.image_outputs() + o * p.positions;
        const T shift = bias ? bias[o] : T(0);
        for (std::int64_t l = 0; l < p.positions; ++l) to[l] = from[l] + shift;
      }
  });
}

template <class T>
void conv2d_backward_typed(const T* grad_out, const T* x, const T* weight, const ConvPlan& p,
                           T* grad_in, T* grad_weight, T* grad_bias) {
  const std::int64_t weight_size = p.out_channels * p.group_rows;
  // Each chunk's weight and bias gradients, summed in chunk order afterwards,
  // so that the result does not depend on which thread ran which chunk.
  const bool partials = grad_weight || grad_bias;
  std::vector<T> partial(partials ? p.chunks * (weight_size + p.out_channels) : 0);
  p.for_each([&](std::int64_t chunk, std::int64_t first, std::int64_t count) {
    const std::int64_t columns = count * p.positions;
    T* const cols = scratch<T, 0>(p.groups * p.group_rows * columns);
    T* const dy = scratch<T, 1>(p.out_channels * columns);
    // The chunk's grad_out [images, O, L] as dy [O, images, L], the product's layout.
    for (std::int64_t n = 0; n < count; ++n)
      for (std::int64_t o = 0; o < p.out_channels; ++o)
        std::copy_n(grad_out + (first + n) * p.image_outputs() + o * p.positions, p.positions,
                    dy + o * columns + n * p.positions);
    T* const chunk_weight = partial.data() + chunk * (weight_size + p.out_channels);
    if (grad_bias)
      for (std::int64_t o = 0; o < p.out_channels; ++o)
        chunk_weight[weight_size + o] = sum_run(dy + o * columns, columns);
    const ConvGeometry images = p.images(count);
    if (grad_weight) {
      im2col_typed(x + first * p.image_pixels(), images, cols);
      // Per group: dW_g [O / groups, K] = dy_g [O / groups, columns] @ cols_g^T.
      for (std::int64_t group = 0; group < p.groups; ++group)
        serial_gemm<T>({dy + group * p.group_outputs * columns, columns},
                       {cols + group * p.group_rows * columns, columns, true}, p.group_outputs,
                       p.group_rows, columns,
                       chunk_weight + group * p.group_outputs * p.group_rows);
    }
    if (grad_in) {
      // Per group: dcols_g [K, columns] = weight_g^T @ dy_g, then summed back onto the images.
      for (std::int64_t group = 0; group < p.groups; ++group)
        serial_gemm<T>({weight + group * p.group_outputs * p.group_rows, p.group_rows, true},
                       {dy + group * p.group_outputs * columns, columns}, p.group_rows, columns,
                       p.group_outputs, cols + group * p.group_rows * columns);
      col2im_consuming(cols, images, grad_in + first * p.image_pixels());
    }
  });
  // Each element's partials are summed in chunk order whichever thread sums
  // them, so the split over elements changes no bits.
  const auto sum_chunks = [&](T* out, std::int64_t offset, std::int64_t size) {
    parallel_for(0, size, kParallelGrain / std::max<std::int64_t>(p.chunks, 1) + 1,
                 [&](std::int64_t begin, std::int64_t end) {
                   std::fill(out + begin, out + end, T(0));
                   for (std::int64_t chunk = 0; chunk < p.chunks; ++chunk) {
                     const T* from =
                         partial.data() + chunk * (weight_size + p.out_channels) + offset;
                     for (std::int64_t i = begin; i < end; ++i) out[i] += from[i];
                   }
                 });
  };
  if (grad_weight) sum_chunks(grad_weight, 0, weight_size);
  if (grad_bias) sum_chunks(grad_bias, weight_size, p.out_channels);
}

/// The data of `t` as T, or nullptr for an undefined tensor.
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

/// A max-pooling tap (a load, a compare, a select, and the index scan) costs
/// about this many cheap element-wise operations: a CNN's later, small planes
/// (2x2 windows on 4x4 planes) are split over the pool from a few thousand planes.
constexpr std::int64_t kPoolTapCost = 8;

/// Max pooling, window by window. A window whose every column lies inside the
/// image takes its maximum with max instructions, then the index of the first
/// tap that holds it by a backward scan of selects: no branch on data, where
/// a branch on which tap wins would mispredict half the time. A window that
/// holds a NaN (rare), or lies partly in the padding, goes tap by tap.
template <class T>
void max_pool2d_typed(const T* x, const ConvGeometry& g, T* out, std::int64_t* indices) {
  const std::int64_t plane_size = g.height * g.width, positions = g.out_height * g.out_width;
  // Output columns [inner_first, inner_last) have all their taps' columns inside.
  const std::int64_t inner_first = inside_columns(-g.pad_w, g.stride_w, g.width, g.out_width).first;
  const std::int64_t inner_last = std::max(
      inner_first,
      inside_columns((g.kernel_w - 1) * g.dilation_w - g.pad_w, g.stride_w, g.width, g.out_width)
          .second);
  const std::int64_t grain = std::max<std::int64_t>(
      1, kParallelGrain / (kPoolTapCost * positions * g.kernel_h * g.kernel_w));
  parallel_for(0, g.batch * g.channels, grain, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t>
        taps;  // an output row's taps inside the image, from its window's left
    taps.reserve(g.kernel_h * g.kernel_w);
    for (std::int64_t q = begin; q < end; ++q) {
      const T* const plane = x + q * plane_size;
      for (std::int64_t r = 0; r < g.out_height; ++r) {
        T* const row_out = out + q * positions + r * g.out_width;
        std::int64_t* const row_index = indices + q * positions + r * g.out_width;
        taps.clear();
        for (std::int64_t i = 0; i < g.kernel_h; ++i) {
          const std::int64_t row = r * g.stride_h + i * g.dilation_h - g.pad_h;
          if (row < 0 || row >= g.height) continue;
          for (std::int64_t j = 0; j < g.kernel_w; ++j)
            taps.push_back(row * g.width + j * g.dilation_w - g.pad_w);
        }
        const auto count = static_cast<std::int64_t>(taps.size());
        for (std::int64_t s = inner_first; s < inner_last; ++s) {
          const T* const window = plane + s * g.stride_w;
          T largest = window[taps[0]];
          bool nan = largest != largest;
          for (std::int64_t t = 1; t < count; ++t) {
            const T value = window[taps[t]];
            largest = value > largest ? value : largest;
            nan |= value != value;
          }
          std::int64_t best = taps[0];
          for (std::int64_t t = count - 1; t > 0; --t)
            best = window[taps[t]] == largest ? taps[t] : best;
          row_out[s] = largest;
          row_index[s] = best + s * g.stride_w;
          if (nan) max_pool_window(plane, g, r, s, row_out + s, row_index + s);
        }
        for (std::int64_t s = 0; s < g.out_width; ++s)
          if (s < inner_first || s >= inner_last)
            max_pool_window(plane, g, r, s, row_out + s, row_index + s);
      }
    }
  });
}

}  // namespace

void CpuBackend::im2col(const Tensor& in, const ConvGeometry& geometry, const Tensor& out) {
  visit_floating("im2col", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    im2col_typed(in.data_ptr<T>(), geometry, out.data_ptr<T>());
  });
}

void CpuBackend::col2im(const Tensor& columns, const ConvGeometry& geometry, const Tensor& out) {
  visit_floating("col2im", columns.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    col2im_typed(columns.data_ptr<T>(), geometry, out.data_ptr<T>());
  });
}

void CpuBackend::conv2d(const Tensor& in, const Tensor& weight, const Tensor& bias,
                        const ConvGeometry& geometry, std::int64_t groups, const Tensor& out) {
  visit_floating("conv2d", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const ConvPlan plan(geometry, groups, weight.shape()[0], sizeof(T));
    conv2d_typed(in.data_ptr<T>(), weight.data_ptr<T>(), data_or_null<T>(bias), plan,
                 out.data_ptr<T>());
  });
}

void CpuBackend::conv2d_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                                 const ConvGeometry& geometry, std::int64_t groups,
                                 const Tensor& grad_in, const Tensor& grad_weight,
                                 const Tensor& grad_bias) {
  visit_floating("conv2d", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const ConvPlan plan(geometry, groups, weight.shape()[0], sizeof(T));
    conv2d_backward_typed(grad_out.data_ptr<T>(), in.data_ptr<T>(), weight.data_ptr<T>(), plan,
                          data_or_null<T>(grad_in), data_or_null<T>(grad_weight),
                          data_or_null<T>(grad_bias));
  });
}

void CpuBackend::max_pool2d(const Tensor& in, const ConvGeometry& geometry, const Tensor& out,
                            const Tensor& indices) {
  visit_floating("max_pool2d", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    max_pool2d_typed(in.data_ptr<T>(), geometry, out.data_ptr<T>(),
                     indices.data_ptr<std::int64_t>());
  });
}

}  // namespace tether::backend::cpu
