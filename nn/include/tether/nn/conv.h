// Convolutions: conv2d, Conv1d and Conv2d as torch's (stride, padding,
// dilation, groups), and the sliding-window gather the pooling layers use.
//
//   tether::nn::Conv2d conv(3, 16, {3, 3}, 1, 1);   // 3x3, stride 1, padding 1
//   auto y = conv(x);                               // [N, 3, H, W] -> [N, 16, H, W]
//   conv.weight = tether::spectrally_normalize(conv.weight);
//
// A convolution is im2col then a matrix product: every window of the input
// becomes a column (ops.h's im2col, a kernel of each backend, whose gradient
// is col2im), and the weight multiplies the columns. Both steps are
// differentiable ops, so a convolution's gradients need no code of their own.
// The pooling layers gather their windows with Unfold2d (an index_select).
#pragma once

#include <cstdint>
#include <string>

#include "tether/nn/module.h"

namespace tether::nn {

/// A 2-d extent (height, width); one number means both: `3` or `{3, 5}`.
struct Size2d {
  Size2d(std::int64_t both) : height(both), width(both) {}  // NOLINT: implicit by design
  Size2d(std::int64_t height, std::int64_t width) : height(height), width(width) {}
  std::int64_t height;
  std::int64_t width;
};

/// The geometry of a sliding window over [H, W], as torch.nn.Conv2d's options.
struct Window2d {
  Size2d kernel;
  Size2d stride = 1;
  Size2d padding = 0;
  Size2d dilation = 1;
};

/// Gathers the windows of x [N, C, H, W] into patches [C, kh * kw, L, N],
/// L = H_out * W_out, with x padded by `pad_value`; the batch comes last, so a
/// convolution of the whole batch is one matrix product. The gather's index
/// depends only on (C, H, W) and the device, so it is built once and kept for
/// the next call with the same input size.
class Unfold2d {
 public:
  /// Throws ValueError, naming `layer`, for a non-positive kernel, stride or
  /// dilation, or a negative padding.
  Unfold2d(std::string layer, Window2d window);

  /// Throws ShapeError, naming the layer, unless x is 4-d with a window that fits.
  Tensor operator()(const Tensor& x, double pad_value);
  /// output_size for x; throws as operator().
  Size2d checked_output_size(const Tensor& x) const;
  /// (H_out, W_out) for an input of (H, W): (H + 2 p - d (k - 1) - 1) / s + 1.
  Size2d output_size(std::int64_t height, std::int64_t width) const;
  const Window2d& window() const { return window_; }

 private:
  std::string layer_;
  Window2d window_;
  std::int64_t cached_channels_ = -1;
  std::int64_t cached_height_ = -1;
  std::int64_t cached_width_ = -1;
  Tensor cached_index_;  ///< i64 [C * kh * kw * L] into C * H * W, then one pad row
};

/// The 2-d convolution of x [N, in, H, W] by weight [out, in / groups, kh,
/// kw], plus bias [out] where defined, as torch.nn.functional.conv2d: [N, out,
/// H_out, W_out]: tether::conv2d (ops.h), the fused node. Throws ValueError for groups < 1 or an
/// invalid window, and ShapeError for shapes that do not fit, naming conv2d.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Size2d stride = 1,
              Size2d padding = 0, Size2d dilation = 1, std::int64_t groups = 1);

/// conv2d over `unfold`'s window, its shape errors naming unfold's layer.
/// Conv2d's forward, and ConvTranspose2d's once it has spread its input.
Tensor convolve(Unfold2d& unfold, const Tensor& x, const Tensor& weight, const Tensor& bias,
                std::int64_t groups);

/// Shared by Conv1d and Conv2d: weight [out, in / groups, *kernel], bias [out],
/// both drawn as PyTorch does (kaiming_uniform_ with a = sqrt(5), so
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.size(1) *
/// prod(kernel)). The transposed convolutions (conv_transpose.h) share it
/// with weight [in, out / groups, *kernel].
class ConvNd : public UnaryModule {
 public:
  std::shared_ptr<Parameter> weight;
  std::shared_ptr<Parameter> bias;  ///< null without bias

 protected:
  /// Throws ValueError for non-positive channel counts, groups that do not
  /// divide both, or an invalid window.
  ConvNd(std::string layer, std::int64_t in_channels, std::int64_t out_channels,
         const Shape& kernel, Window2d window, std::int64_t groups, bool bias,
         TensorOptions options, bool transposed = false);
  /// The convolution of x [N, in, H, W] by the weight viewed as 2-d.
  Tensor convolve(const Tensor& x);

  std::string layer_;
  std::int64_t in_channels_;
  std::int64_t out_channels_;
  std::int64_t groups_;
  Unfold2d unfold_;
};

/// torch.nn.Conv2d: x [N, in, H, W] -> [N, out, H_out, W_out], with
/// H_out = (H + 2 padding - dilation (kernel - 1) - 1) / stride + 1 (and W_out
/// alike). Each of `groups` groups of in / groups input channels makes out /
/// groups output channels. Zero padding.
class Conv2d : public ConvNd {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2d kernel, Size2d stride = 1,
         Size2d padding = 0, Size2d dilation = 1, std::int64_t groups = 1, bool bias = true,
         TensorOptions options = {});

  /// Throws ShapeError for another rank or channel count, or an input smaller
  /// than the dilated kernel.
  Tensor forward(const Tensor& x) override;
};

/// torch.nn.Conv1d: x [N, in, L] -> [N, out, L_out], L_out as Conv2d's W_out.
class Conv1d : public ConvNd {
 public:
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
         std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t dilation = 1,
         std::int64_t groups = 1, bool bias = true, TensorOptions options = {});

  /// Throws as Conv2d::forward.
  Tensor forward(const Tensor& x) override;
};

}  // namespace tether::nn
