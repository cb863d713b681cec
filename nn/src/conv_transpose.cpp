#include "tether/nn/conv_transpose.h"

#include <algorithm>
#include <array>
#include <string>

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

/// x with stride - 1 zeros between neighbours along dim: (n - 1) stride + 1.
Tensor spread(const Tensor& x, int dim, std::int64_t stride) {
  if (stride == 1) return x;
  Shape gaps = x.shape();
  gaps.insert(dim + 1, stride - 1);
  Shape merged = x.shape();
  merged[dim] *= stride;
  const Tensor interleaved = cat({x.unsqueeze(dim + 1), zeros(gaps, x.options())}, dim + 1);
  return narrow(interleaved.reshape(merged), dim, 0, (x.size(dim) - 1) * stride + 1);
}

/// x with `before` and `after` zeros at the ends of dim; a negative count cuts
/// that many elements instead (a padding beyond the dilated kernel).
Tensor pad_or_cut(const Tensor& x, int dim, std::int64_t before, std::int64_t after) {
  Tensor y =
      narrow(x, dim, std::max<std::int64_t>(-before, 0),
             x.size(dim) + std::min<std::int64_t>(before, 0) + std::min<std::int64_t>(after, 0));
  const auto zeros_of = [&](std::int64_t count) {
    Shape shape = y.shape();
    shape[dim] = std::max<std::int64_t>(count, 0);
    return zeros(shape, y.options());
  };
  if (before <= 0 && after <= 0) return y;
  return cat({zeros_of(before), y, zeros_of(after)}, dim);
}

/// The output extent of one axis, (input - 1) stride - 2 padding + dilation
/// (kernel - 1) + output_padding + 1, in checked arithmetic: a ShapeError
/// naming `op` where it leaves a 64-bit size.
std::int64_t output_extent(const std::string& op, std::int64_t input, std::int64_t kernel,
                           std::int64_t stride, std::int64_t padding, std::int64_t output_padding,
                           std::int64_t dilation) {
  std::int64_t spread = 0, reach = 0, extent = 0;
  if (__builtin_mul_overflow(input - 1, stride, &spread) ||
      __builtin_mul_overflow(dilation, kernel - 1, &reach) ||
      __builtin_add_overflow(spread, reach, &extent) ||
      __builtin_add_overflow(extent, output_padding + 1, &extent) ||
      __builtin_sub_overflow(extent, padding, &extent) ||
      __builtin_sub_overflow(extent, padding, &extent))
    fail<ShapeError>(op, ": the output extent for an input extent of ", input, " with stride ",
                     stride, ", padding ", padding, ", kernel ", kernel, " and dilation ", dilation,
                     " exceeds a 64-bit size");
  return extent;
}

void check_arguments(const std::string& op, const Window2d& w, Size2d output_padding,
                     std::int64_t groups) {
  if (w.stride.height <= 0 || w.stride.width <= 0 || w.dilation.height <= 0 ||
      w.dilation.width <= 0 || w.padding.height < 0 || w.padding.width < 0 || groups <= 0)
    fail<ValueError>(op, ": expected positive stride, dilation and groups and a non-negative ",
                     "padding, got stride (", w.stride.height, ", ", w.stride.width,
                     "), dilation (", w.dilation.height, ", ", w.dilation.width, "), padding (",
                     w.padding.height, ", ", w.padding.width, ") and groups ", groups);
  const auto fits = [](std::int64_t pad, std::int64_t stride, std::int64_t dilation) {
    return pad >= 0 && (pad < stride || pad < dilation);
  };
  if (!fits(output_padding.height, w.stride.height, w.dilation.height) ||
      !fits(output_padding.width, w.stride.width, w.dilation.width))
    fail<ValueError>(op, ": expected output_padding below stride or dilation, got (",
                     output_padding.height, ", ", output_padding.width, ")");
}

/// The transposed convolution, its errors naming `op`; `unfold` holds the
/// window (kernel, stride 1, padding 0, dilation) of the convolution it runs.
Tensor transposed(const std::string& op, Unfold2d& unfold, const Tensor& x, const Tensor& weight,
                  const Tensor& bias, const Window2d& w, Size2d output_padding,
                  std::int64_t groups) {
  if (x.dim() != 4 || weight.dim() != 4 || x.size(1) != weight.size(0) ||
      weight.size(0) % groups != 0)
    fail<ShapeError>(op, ": expected input [N, in, H, W] and weight [in, out / groups, kh, kw] ",
                     "with groups ", groups, " dividing in, got ", x.shape(), " and ",
                     weight.shape());
  const std::int64_t out_channels = weight.size(1) * groups;
  if (bias.defined() && bias.shape() != Shape{out_channels})
    fail<ShapeError>(op, ": expected bias [", out_channels, "], got ", bias.shape());
  const std::int64_t height =
      output_extent(op, x.size(2), w.kernel.height, w.stride.height, w.padding.height,
                    output_padding.height, w.dilation.height);
  const std::int64_t width = output_extent(op, x.size(3), w.kernel.width, w.stride.width,
                                           w.padding.width, output_padding.width, w.dilation.width);
  if (height <= 0 || width <= 0)
    fail<ShapeError>(op, ": expected a non-empty output, got [", height, ", ", width,
                     "] from input ", x.shape());
  // Each axis: spread by stride, then padded so that the convolution with
  // the flipped kernel lands every tap where the transpose sends it.
  Tensor spread_x = spread(spread(x, 2, w.stride.height), 3, w.stride.width);
  const std::int64_t reach_h = w.dilation.height * (w.kernel.height - 1) - w.padding.height;
  const std::int64_t reach_w = w.dilation.width * (w.kernel.width - 1) - w.padding.width;
  spread_x = pad_or_cut(spread_x, 2, reach_h, reach_h + output_padding.height);
  spread_x = pad_or_cut(spread_x, 3, reach_w, reach_w + output_padding.width);
  // [in, out / g, kh, kw] -> [out, in / g, kh, kw], the kernel flipped.
  const std::int64_t in_per_group = weight.size(0) / groups;
  const Tensor kernel =
      flip(weight.reshape({groups, in_per_group, weight.size(1), w.kernel.height, w.kernel.width})
               .permute({0, 2, 1, 3, 4})
               .reshape({out_channels, in_per_group, w.kernel.height, w.kernel.width}),
           {2, 3});
  return convolve(unfold, spread_x, kernel, bias, groups);
}

/// The convolution a transposed one runs: the same kernel and dilation,
/// stride 1, no padding.
Window2d inner_window(const Window2d& w) {
  return {w.kernel, 1, 0, w.dilation};
}

/// check_arguments's answer, for the member initialiser list (ConvNd's
/// checks run in its constructor, before this one's body).
Window2d checked(const std::string& layer, Window2d window, Size2d output_padding,
                 std::int64_t groups) {
  check_arguments(layer, window, output_padding, groups);
  return window;
}

}  // namespace

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2d stride,
                        Size2d padding, Size2d output_padding, std::int64_t groups,
                        Size2d dilation) {
  if (weight.dim() != 4)
    fail<ShapeError>("conv_transpose2d: expected weight [in, out / groups, kh, kw], got ",
                     weight.shape());
  const Window2d window{{weight.size(2), weight.size(3)}, stride, padding, dilation};
  check_arguments("conv_transpose2d", window, output_padding, groups);
  Unfold2d unfold("conv_transpose2d", inner_window(window));
  return transposed("conv_transpose2d", unfold, x, weight, bias, window, output_padding, groups);
}

ConvTransposeNd::ConvTransposeNd(std::string layer, std::int64_t in_channels,
                                 std::int64_t out_channels, const Shape& kernel, Window2d window,
                                 Size2d output_padding, std::int64_t groups, bool bias,
                                 TensorOptions options)
    : ConvNd(layer, in_channels, out_channels, kernel,
             inner_window(checked(layer, window, output_padding, groups)), groups, bias, options,
             true),
      window_(window),
      output_padding_(output_padding) {}

Tensor ConvTransposeNd::convolve_transposed(const Tensor& x) {
  return convolve_transposed_with(x, output_padding_);
}

Tensor ConvTransposeNd::convolve_transposed(const Tensor& x, const Shape& output_size,
                                            int spatial_dims) {
  // torch's _output_padding: output_size may include N and the channels,
  // and picks one of the stride sizes that the input's extents allow.
  const int given = output_size.size();
  if (given != spatial_dims && given != spatial_dims + 2)
    fail<ValueError>(layer_, ": for ", spatial_dims + 2, "-d input, output_size must have ",
                     spatial_dims, " or ", spatial_dims + 2, " elements (got ", given, ")");
  Shape requested;
  for (int d = given - spatial_dims; d < given; ++d) requested.push_back(output_size[d]);
  // The axes in x [N, in, H, W] (a 1-d layer's input has H = 1) and window_.
  const int first = 4 - spatial_dims;
  const auto axis_window = [&](int axis) {
    const bool height = axis == 2;
    return std::array<std::int64_t, 4>{height ? window_.kernel.height : window_.kernel.width,
                                       height ? window_.stride.height : window_.stride.width,
                                       height ? window_.padding.height : window_.padding.width,
                                       height ? window_.dilation.height : window_.dilation.width};
  };
  Shape smallest, largest, inputs;
  Size2d padding = 0;
  for (int axis = first; axis < 4; ++axis) {
    const auto [kernel, stride, pad, dilation] = axis_window(axis);
    smallest.push_back(output_extent(layer_, x.size(axis), kernel, stride, pad, 0, dilation));
    largest.push_back(smallest.back() + stride - 1);
    inputs.push_back(x.size(axis));
    (axis == 2 ? padding.height : padding.width) = requested[axis - first] - smallest.back();
  }
  for (int d = 0; d < spatial_dims; ++d)
    if (requested[d] < smallest[d] || requested[d] > largest[d])
      fail<ValueError>(layer_, ": requested an output size of ", requested,
                       ", but valid sizes range from ", smallest, " to ", largest,
                       " (for an input of ", inputs, ")");
  return convolve_transposed_with(x, padding);
}

Tensor ConvTransposeNd::convolve_transposed_with(const Tensor& x, Size2d output_padding) {
  const Tensor w = weight->value();  // [in, out / groups, kh, kw]; ConvTranspose1d's has no kh
  return transposed(layer_, unfold_, x,
                    w.reshape({w.size(0), w.size(1), window_.kernel.height, window_.kernel.width}),
                    bias ? bias->value() : Tensor(), window_, output_padding, groups_);
}

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Size2d kernel,
                                 Size2d stride, Size2d padding, Size2d output_padding,
                                 std::int64_t groups, bool bias, Size2d dilation,
                                 TensorOptions options)
    : ConvTransposeNd("ConvTranspose2d", in_channels, out_channels, {kernel.height, kernel.width},
                      {kernel, stride, padding, dilation}, output_padding, groups, bias, options) {}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input(x);
  return convolve_transposed(x);
}

Tensor ConvTranspose2d::forward(const Tensor& x, const Shape& output_size) {
  check_input(x);
  return convolve_transposed(x, output_size, 2);
}

void ConvTranspose2d::check_input(const Tensor& x) const {
  if (x.dim() != 4 || x.size(1) != in_channels_)
    fail<ShapeError>("ConvTranspose2d: expected input [N, ", in_channels_, ", H, W], got ",
                     x.shape());
}

// A 1-d transposed convolution is a 2-d one over an input of height 1.
ConvTranspose1d::ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels,
                                 std::int64_t kernel, std::int64_t stride, std::int64_t padding,
                                 std::int64_t output_padding, std::int64_t groups, bool bias,
                                 std::int64_t dilation, TensorOptions options)
    : ConvTransposeNd("ConvTranspose1d", in_channels, out_channels, {kernel},
                      {{1, kernel}, {1, stride}, {0, padding}, {1, dilation}}, {0, output_padding},
                      groups, bias, options) {}

Tensor ConvTranspose1d::forward(const Tensor& x) {
  check_input(x);
  return convolve_transposed(x.unsqueeze(2)).squeeze(2);
}

Tensor ConvTranspose1d::forward(const Tensor& x, const Shape& output_size) {
  check_input(x);
  return convolve_transposed(x.unsqueeze(2), output_size, 1).squeeze(2);
}

void ConvTranspose1d::check_input(const Tensor& x) const {
  if (x.dim() != 3 || x.size(1) != in_channels_)
    fail<ShapeError>("ConvTranspose1d: expected input [N, ", in_channels_, ", L], got ", x.shape());
}

}  // namespace tether::nn
