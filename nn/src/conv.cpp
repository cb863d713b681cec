#include "tether/nn/conv.h"

#include <array>
#include <cmath>
#include <vector>

#include "tether/error.h"
#include "tether/nn/init.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

/// Extent covered by a kernel of `size` taps spaced `dilation` apart.
std::int64_t dilated(std::int64_t size, std::int64_t dilation) {
  return dilation * (size - 1) + 1;
}

void check_positive(const std::string& layer, const char* what, Size2d size) {
  if (size.height <= 0 || size.width <= 0)
    fail<ValueError>(layer, ": expected a positive ", what, ", got (", size.height, ", ",
                     size.width, ")");
}

}  // namespace

Unfold2d::Unfold2d(std::string layer, Window2d window) : layer_(std::move(layer)), window_(window) {
  check_positive(layer_, "kernel_size", window.kernel);
  check_positive(layer_, "stride", window.stride);
  check_positive(layer_, "dilation", window.dilation);
  if (window.padding.height < 0 || window.padding.width < 0)
    fail<ValueError>(layer_, ": expected a non-negative padding, got (", window.padding.height,
                     ", ", window.padding.width, ")");
  // The dilated kernel and twice the padding must be sizes themselves, so
  // that the output size's arithmetic (and dilated()) cannot overflow.
  for (const auto& [kernel, dilation, padding] :
       {std::array{window.kernel.height, window.dilation.height, window.padding.height},
        std::array{window.kernel.width, window.dilation.width, window.padding.width}}) {
    std::int64_t unused = 0;
    if (__builtin_mul_overflow(dilation, kernel - 1, &unused) ||
        __builtin_add_overflow(unused, 1, &unused) || __builtin_mul_overflow(padding, 2, &unused))
      fail<ValueError>(layer_, ": kernel_size (", window.kernel.height, ", ", window.kernel.width,
                       ") dilated by (", window.dilation.height, ", ", window.dilation.width,
                       ") or twice the padding (", window.padding.height, ", ",
                       window.padding.width, ") exceeds a 64-bit size");
  }
}

Size2d Unfold2d::output_size(std::int64_t height, std::int64_t width) const {
  const Window2d& w = window_;
  const auto extent = [&](std::int64_t size, std::int64_t kernel, std::int64_t stride,
                          std::int64_t padding, std::int64_t dilation) {
    std::int64_t padded = 0;  // the constructor made 2 padding and dilated() safe
    if (__builtin_add_overflow(size, 2 * padding, &padded))
      fail<ShapeError>(layer_, ": an input extent of ", size, " padded by ", padding,
                       " on each side exceeds a 64-bit size");
    const std::int64_t span = padded - dilated(kernel, dilation);
    return span < 0 ? 0 : span / stride + 1;
  };
  return {extent(height, w.kernel.height, w.stride.height, w.padding.height, w.dilation.height),
          extent(width, w.kernel.width, w.stride.width, w.padding.width, w.dilation.width)};
}

Size2d Unfold2d::checked_output_size(const Tensor& x) const {
  if (x.dim() != 4) fail<ShapeError>(layer_, ": expected input [N, C, H, W], got ", x.shape());
  const Size2d out = output_size(x.size(2), x.size(3));
  const Window2d& w = window_;
  if (out.height < 1 || out.width < 1)
    fail<ShapeError>(layer_, ": expected an input of at least the dilated kernel (",
                     dilated(w.kernel.height, w.dilation.height), ", ",
                     dilated(w.kernel.width, w.dilation.width), ") after padding (",
                     w.padding.height, ", ", w.padding.width, "), got ", x.shape());
  return out;
}

Tensor Unfold2d::operator()(const Tensor& x, double pad_value) {
  const Size2d out = checked_output_size(x);
  const std::int64_t batch = x.size(0), channels = x.size(1);
  const std::int64_t height = x.size(2), width = x.size(3);
  const Window2d& w = window_;
  const std::int64_t taps = w.kernel.height * w.kernel.width;
  const std::int64_t positions = out.height * out.width;
  const std::int64_t pixels = channels * height * width;

  if (!cached_index_.defined() || channels != cached_channels_ || height != cached_height_ ||
      width != cached_width_ || cached_index_.device() != x.device()) {
    // Tap (i, j) of channel c's window at output (r, s) reads the input at
    // (r * stride + i * dilation - padding, s * stride + j * dilation -
    // padding), or the pad row `pixels` where that lies in the padding.
    // Channels and taps run slowest, so the patches come out [C, taps, L, N]
    // without a transpose.
    std::vector<double> index;
    index.reserve(channels * taps * positions);
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t i = 0; i < w.kernel.height; ++i)
        for (std::int64_t j = 0; j < w.kernel.width; ++j)
          for (std::int64_t r = 0; r < out.height; ++r)
            for (std::int64_t s = 0; s < out.width; ++s) {
              const std::int64_t row =
                  r * w.stride.height + i * w.dilation.height - w.padding.height;
              const std::int64_t col = s * w.stride.width + j * w.dilation.width - w.padding.width;
              const bool inside = row >= 0 && row < height && col >= 0 && col < width;
              index.push_back(
                  static_cast<double>(inside ? (c * height + row) * width + col : pixels));
            }
    cached_index_ = tensor(index, {channels * taps * positions},
                           TensorOptions(DType::i64).with_device(x.device()));
    cached_channels_ = channels;
    cached_height_ = height;
    cached_width_ = width;
  }
  // With the batch last, every index selects one pixel of all N images: a
  // contiguous row, so the gather (and its scatter-add backward) moves rows,
  // not single elements, and the pad value is one extra row, not a padded copy.
  Tensor rows = x.permute({1, 2, 3, 0}).reshape({pixels, batch});
  if (w.padding.height > 0 || w.padding.width > 0)
    rows = cat({rows, full({1, batch}, pad_value, x.options())}, 0);
  return index_select(rows, 0, cached_index_).reshape({channels, taps, positions, batch});
}

ConvNd::ConvNd(std::string layer, std::int64_t in_channels, std::int64_t out_channels,
               const Shape& kernel, Window2d window, std::int64_t groups, bool bias,
               TensorOptions options, bool transposed)
    : layer_(layer),
      in_channels_(in_channels),
      out_channels_(out_channels),
      groups_(groups),
      unfold_(std::move(layer), window) {
  if (in_channels <= 0 || out_channels <= 0)
    fail<ValueError>(layer_, ": channel counts must be positive, got ", in_channels, " and ",
                     out_channels);
  if (groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0)
    fail<ValueError>(layer_, ": expected groups dividing in_channels ", in_channels,
                     " and out_channels ", out_channels, ", got ", groups);
  Shape weight_shape = transposed ? Shape{in_channels, out_channels / groups}
                                  : Shape{out_channels, in_channels / groups};
  for (const std::int64_t size : kernel) weight_shape.push_back(size);
  const TensorOptions initial = options.with_requires_grad(false);
  register_parameter("weight", weight, zeros(weight_shape, initial));
  // PyTorch's default: a = sqrt(5) makes the weight's bound 1/sqrt(fan_in), the
  // bias's too; fan_in is the weight's dim 1 times the kernel in both layouts.
  init::kaiming_uniform_(*weight, std::sqrt(5.0));
  if (bias) {
    const double bound = 1 / std::sqrt(static_cast<double>(weight_shape[1] * kernel.numel()));
    register_parameter("bias", this->bias, zeros({out_channels}, initial));
    init::uniform_(*this->bias, -bound, bound);
  }
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2d stride,
              Size2d padding, Size2d dilation, std::int64_t groups) {
  return tether::conv2d(x, weight, bias, {stride.height, stride.width},
                        {padding.height, padding.width}, {dilation.height, dilation.width}, groups);
}

Tensor convolve(Unfold2d& unfold, const Tensor& x, const Tensor& weight, const Tensor& bias,
                std::int64_t groups) {
  unfold.checked_output_size(x);  // errors name the layer
  const Window2d& w = unfold.window();
  // Conv1d's weight [out, in / groups, k] is a 2-d one of kernel height 1.
  const Tensor kernel =
      weight.reshape({weight.size(0), weight.size(1), w.kernel.height, w.kernel.width});
  return conv2d(x, kernel, bias, w.stride, w.padding, w.dilation, groups);
}

Tensor ConvNd::convolve(const Tensor& x) {
  return nn::convolve(unfold_, x, weight->value(), bias ? bias->value() : Tensor(), groups_);
}

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2d kernel, Size2d stride,
               Size2d padding, Size2d dilation, std::int64_t groups, bool bias,
               TensorOptions options)
    : ConvNd("Conv2d", in_channels, out_channels, {kernel.height, kernel.width},
             {kernel, stride, padding, dilation}, groups, bias, options) {}

Tensor Conv2d::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != in_channels_)
    fail<ShapeError>("Conv2d: expected input [N, ", in_channels_, ", H, W], got ", x.shape());
  return convolve(x);
}

// A 1-d convolution is a 2-d one over an input of height 1.
Conv1d::Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
               std::int64_t stride, std::int64_t padding, std::int64_t dilation,
               std::int64_t groups, bool bias, TensorOptions options)
    : ConvNd("Conv1d", in_channels, out_channels, {kernel},
             {{1, kernel}, {1, stride}, {0, padding}, {1, dilation}}, groups, bias, options) {}

Tensor Conv1d::forward(const Tensor& x) {
  if (x.dim() != 3 || x.size(1) != in_channels_)
    fail<ShapeError>("Conv1d: expected input [N, ", in_channels_, ", L], got ", x.shape());
  const Window2d& w = unfold_.window();  // its width is this layer's length axis
  if (unfold_.output_size(1, x.size(2)).width < 1)
    fail<ShapeError>("Conv1d: expected an input of at least the dilated kernel (",
                     dilated(w.kernel.width, w.dilation.width), ") after padding (",
                     w.padding.width, "), got ", x.shape());
  return convolve(x.unsqueeze(2)).squeeze(2);
}

}  // namespace tether::nn
