// Transposed convolutions, as torch.nn's ConvTranspose1d and ConvTranspose2d
// and torch.nn.functional.conv_transpose2d: the map whose adjoint is the
// convolution of the same geometry (the gradient of conv2d with respect to
// its input). Built as torch defines it: the input spread by `stride` (zeros
// between its elements), padded by dilation (kernel - 1) - padding (and
// output_padding at the end), convolved with the flipped, transposed weight.
#pragma once

#include <cstdint>
#include <string>

#include "tether/nn/conv.h"

namespace tether::nn {

/// x [N, in, H, W] and weight [in, out / groups, kh, kw] -> [N, out, H_out,
/// W_out], H_out = (H - 1) stride - 2 padding + dilation (kh - 1) +
/// output_padding + 1 (W_out alike), plus bias [out] where defined. Throws
/// ShapeError for other shapes or an empty output, ValueError for
/// non-positive stride, dilation or groups, negative padding, groups that do
/// not divide in, or an output_padding not below stride or dilation.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        Size2d stride = 1, Size2d padding = 0, Size2d output_padding = 0,
                        std::int64_t groups = 1, Size2d dilation = 1);

/// Shared by ConvTranspose1d and ConvTranspose2d: ConvNd's parameters in
/// torch's transposed layout, weight [in, out / groups, *kernel] and bias
/// [out] (fan_in = out / groups * prod(kernel)).
class ConvTransposeNd : public ConvNd {
 protected:
  /// Throws ValueError as conv_transpose2d does for its arguments, or for
  /// non-positive channel counts or groups that do not divide both.
  ConvTransposeNd(std::string layer, std::int64_t in_channels, std::int64_t out_channels,
                  const Shape& kernel, Window2d window, Size2d output_padding, std::int64_t groups,
                  bool bias, TensorOptions options);
  /// The transposed convolution of x [N, in, H, W] by the weight viewed as 2-d,
  /// with the layer's output_padding.
  Tensor convolve_transposed(const Tensor& x);
  /// Likewise with the output_padding that makes the output's trailing
  /// `spatial_dims` extents `output_size` (its last spatial_dims entries; it
  /// may also hold N and the channels first), as torch's forward(x,
  /// output_size). Throws ValueError for another number of entries or a size
  /// outside [minimum, minimum + stride - 1] of some axis.
  Tensor convolve_transposed(const Tensor& x, const Shape& output_size, int spatial_dims);

  Window2d window_;
  Size2d output_padding_;

 private:
  Tensor convolve_transposed_with(const Tensor& x, Size2d output_padding);
};

/// torch.nn.ConvTranspose2d: x [N, in, H, W] -> [N, out, H_out, W_out] as
/// conv_transpose2d.
class ConvTranspose2d : public ConvTransposeNd {
 public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Size2d kernel,
                  Size2d stride = 1, Size2d padding = 0, Size2d output_padding = 0,
                  std::int64_t groups = 1, bool bias = true, Size2d dilation = 1,
                  TensorOptions options = {});

  /// Throws ShapeError for another rank or channel count, or an empty output.
  Tensor forward(const Tensor& x) override;
  /// The output [N, out, H_out, W_out] with output_size = [H_out, W_out] (or
  /// [N, out, H_out, W_out]): the output_padding is chosen for it, as torch's
  /// forward(x, output_size), whatever the layer's. Throws ValueError as
  /// convolve_transposed does, and as forward(x).
  Tensor forward(const Tensor& x, const Shape& output_size);

 private:
  void check_input(const Tensor& x) const;
};

/// torch.nn.ConvTranspose1d: x [N, in, L] -> [N, out, L_out], L_out as
/// ConvTranspose2d's W_out.
class ConvTranspose1d : public ConvTransposeNd {
 public:
  ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
                  std::int64_t stride = 1, std::int64_t padding = 0,
                  std::int64_t output_padding = 0, std::int64_t groups = 1, bool bias = true,
                  std::int64_t dilation = 1, TensorOptions options = {});

  /// Throws as ConvTranspose2d::forward.
  Tensor forward(const Tensor& x) override;
  /// The output [N, out, L_out] with output_size = [L_out] (or [N, out,
  /// L_out]), as ConvTranspose2d's.
  Tensor forward(const Tensor& x, const Shape& output_size);

 private:
  void check_input(const Tensor& x) const;
};

}  // namespace tether::nn
