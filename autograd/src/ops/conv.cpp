// A convolution's patches: im2col gathers each window of an image into a
// column, col2im sums columns back onto the image. Both are linear and each
// is the other's adjoint, so each one's backward is the other, and every
// derivative order of a convolution built on them comes for free.
#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// The geometry of `window` over an input of `size` [N, C, H, W], checked,
/// errors naming `op`.
backend::ConvGeometry geometry(const char* op, const Shape& size, const ConvWindow& window) {
  const auto& [kernel, stride, padding, dilation] = window;
  for (int d = 0; d < 2; ++d)
    if (kernel[d] <= 0 || stride[d] <= 0 || dilation[d] <= 0 || padding[d] < 0)
      fail<ValueError>(op, ": expected a positive kernel, stride and dilation and a non-negative ",
                       "padding, got kernel (", kernel[0], ", ", kernel[1], "), stride (",
                       stride[0], ", ", stride[1], "), padding (", padding[0], ", ", padding[1],
                       "), dilation (", dilation[0], ", ", dilation[1], ")");
  // As torch's unfold: an empty batch is fine, an empty image is refused.
  if (size.size() != 4 || size[1] == 0 || size[2] == 0 || size[3] == 0)
    fail<ShapeError>(op, ": expected an input [N, C, H, W] with C, H and W non-zero, got ", size);
  std::int64_t out[2];
  for (int d = 0; d < 2; ++d) {
    const std::int64_t span = size[2 + d] + 2 * padding[d] - dilation[d] * (kernel[d] - 1) - 1;
    if (span < 0)
      fail<ShapeError>(op, ": expected an input of at least the dilated kernel (",
                       dilation[0] * (kernel[0] - 1) + 1, ", ", dilation[1] * (kernel[1] - 1) + 1,
                       ") after padding (", padding[0], ", ", padding[1], "), got ", size);
    out[d] = span / stride[d] + 1;
  }
  return {size[0],   size[1],   size[2],   size[3],    out[0],     out[1],      kernel[0],
          kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
}

/// [C * kh * kw, N * H_out * W_out]: the columns' shape for `g`.
Shape columns_shape(const backend::ConvGeometry& g) {
  return {g.channels * g.kernel_h * g.kernel_w, g.batch * g.out_height * g.out_width};
}

}  // namespace

Tensor im2col(const Tensor& x, const ConvWindow& window) {
  check_floating("im2col", x);
  const backend::ConvGeometry g = geometry("im2col", x.shape(), window);
  Tensor columns = Tensor::empty(columns_shape(g), x.dtype(), x.device(), "im2col");
  backend_of(x).im2col(contiguous_data(x), g, columns);
  return record("im2col", {x}, columns, {},
                [size = x.shape(), window](Node&, const Tensor& grad) -> GradList {
                  return {col2im(grad, size, window)};
                });
}

Tensor col2im(const Tensor& columns, const Shape& size, const ConvWindow& window) {
  check_floating("col2im", columns);
  const backend::ConvGeometry g = geometry("col2im", size, window);
  if (columns.shape() != columns_shape(g))
    fail<ShapeError>("col2im: expected columns ", columns_shape(g), " for an input ", size,
                     ", got ", columns.shape());
  Tensor image = Tensor::empty(size, columns.dtype(), columns.device(), "col2im");
  backend_of(columns).col2im(contiguous_data(columns), g, image);
  return record("col2im", {columns}, image, {},
                [window](Node&, const Tensor& grad) -> GradList { return {im2col(grad, window)}; });
}

}  // namespace tether
