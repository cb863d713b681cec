// A convolution's patches: im2col gathers each window of an image into a
// column, col2im sums columns back onto the image. Both are linear and each
// is the other's adjoint, so each one's backward is the other, and every
// derivative order of a convolution built on them comes for free.
//
// conv2d is one node with a fused kernel each way (the backend's conv2d and
// conv2d_backward). Only a backward that is itself recorded (create_graph)
// spells its gradients out in im2col, col2im and matmul, which then carry
// the higher orders. max_pool2d keeps each window's argmax, so that its
// backward is a scatter (gather_backward), whose own gradient is a gather.
#include "op_util.h"
#include "tether/grad_mode.h"

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
  // The padded input and the dilated kernel's extent, per side, in checked
  // arithmetic: a hostile padding or dilation must be refused, not overflow.
  std::int64_t padded[2], extent[2], out[2];
  for (int d = 0; d < 2; ++d)
    if (__builtin_mul_overflow(padding[d], 2, &padded[d]) ||
        __builtin_add_overflow(padded[d], size[2 + d], &padded[d]) ||
        __builtin_mul_overflow(dilation[d], kernel[d] - 1, &extent[d]) ||
        __builtin_add_overflow(extent[d], 1, &extent[d]))
      fail<ShapeError>(op, ": padding (", padding[0], ", ", padding[1], ") or the kernel (",
                       kernel[0], ", ", kernel[1], ") dilated by (", dilation[0], ", ", dilation[1],
                       ") exceeds a 64-bit size for an input ", size);
  for (int d = 0; d < 2; ++d) {
    if (padded[d] < extent[d])
      fail<ShapeError>(op, ": expected an input of at least the dilated kernel (", extent[0], ", ",
                       extent[1], ") after padding (", padding[0], ", ", padding[1], "), got ",
                       size);
    out[d] = (padded[d] - extent[d]) / stride[d] + 1;
  }
  return {size[0],   size[1],   size[2],   size[3],    out[0],     out[1],      kernel[0],
          kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
}

/// [C * kh * kw, N * H_out * W_out]: the columns' shape for `g`, checked for
/// overflow (errors naming `op`).
Shape columns_shape(const char* op, const backend::ConvGeometry& g) {
  return {checked_numel(op, {g.channels, g.kernel_h, g.kernel_w}),
          checked_numel(op, {g.batch, g.out_height, g.out_width})};
}

/// conv2d's gradients of x, weight and bias (as `n` needs them) for `grad`,
/// written with recorded ops, so that they can be differentiated again:
/// with gy = grad as [G, O / G, N * L] and the columns as [G, K, N * L],
/// dW = gy @ columns^T, dx = col2im(W^T @ gy), db = grad summed but over O.
GradList conv2d_backward_recorded(Node& n, const Tensor& grad, const Tensor& x,
                                  const Tensor& weight, const ConvWindow& window,
                                  const backend::ConvGeometry& g, std::int64_t groups) {
  const std::int64_t outputs = weight.size(0), columns = g.batch * g.out_height * g.out_width;
  const std::int64_t group_rows = weight.numel() / outputs;  // K = C / groups * kh * kw
  const Tensor gy = transpose(grad, 0, 1).reshape({groups, outputs / groups, columns});
  GradList grads(3);
  if (n.needs_grad(0)) {
    const Tensor grouped = weight.reshape({groups, outputs / groups, group_rows});
    grads[0] =
        col2im(matmul(grouped.mT(), gy).reshape({groups * group_rows, columns}), x.shape(), window);
  }
  if (n.needs_grad(1)) {
    const Tensor cols = im2col(x, window).reshape({groups, group_rows, columns});
    grads[1] = matmul(gy, cols.mT()).reshape(weight.shape());
  }
  if (n.needs_grad(2)) grads[2] = sum(grad, {0, 2, 3});
  return grads;
}

/// The operand for a kernel: its data made contiguous, or undefined.
Tensor kernel_operand(const Tensor& t) {
  return t.defined() ? contiguous_data(t) : Tensor();
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              std::array<std::int64_t, 2> stride, std::array<std::int64_t, 2> padding,
              std::array<std::int64_t, 2> dilation, std::int64_t groups) {
  check_floating("conv2d", x);
  check_same_dtype("conv2d", x, weight);
  check_same_device("conv2d", x, weight);
  if (groups <= 0) fail<ValueError>("conv2d: expected a positive groups, got ", groups);
  if (x.dim() != 4 || weight.dim() != 4 || x.size(1) != weight.size(1) * groups ||
      weight.size(0) % groups != 0)
    fail<ShapeError>("conv2d: expected input [N, in, H, W] and weight [out, in / groups, kh, kw] ",
                     "with groups ", groups, " dividing out, got ", x.shape(), " and ",
                     weight.shape());
  const std::int64_t outputs = weight.size(0);
  if (bias.defined()) {
    check_same_dtype("conv2d", x, bias);
    check_same_device("conv2d", x, bias);
    if (bias.shape() != Shape{outputs})
      fail<ShapeError>("conv2d: expected bias [", outputs, "], got ", bias.shape());
  }
  const ConvWindow window{{weight.size(2), weight.size(3)}, stride, padding, dilation};
  const backend::ConvGeometry g = geometry("conv2d", x.shape(), window);
  Tensor out =
      Tensor::empty({g.batch, outputs, g.out_height, g.out_width}, x.dtype(), x.device(), "conv2d");
  backend_of(x).conv2d(contiguous_data(x), contiguous_data(weight), kernel_operand(bias), g, groups,
                       out);
  return record("conv2d", {x, weight, bias}, out, {x, weight},
                [window, g, groups](Node& n, const Tensor& grad) -> GradList {
                  const Tensor x = n.saved(0), weight = n.saved(1);
                  if (is_grad_enabled())
                    return conv2d_backward_recorded(n, grad, x, weight, window, g, groups);
                  const auto wanted = [&](std::size_t input, const Shape& shape) {
                    return n.needs_grad(input)
                               ? Tensor::empty(shape, grad.dtype(), grad.device(), "conv2d")
                               : Tensor();
                  };
                  GradList grads{wanted(0, x.shape()), wanted(1, weight.shape()),
                                 wanted(2, {weight.size(0)})};
                  backend_of(grad).conv2d_backward(contiguous_data(grad), contiguous_data(x),
                                                   contiguous_data(weight), g, groups, grads[0],
                                                   grads[1], grads[2]);
                  return grads;
                });
}

Tensor max_pool2d(const Tensor& x, const ConvWindow& window) {
  check_floating("max_pool2d", x);
  const backend::ConvGeometry g = geometry("max_pool2d", x.shape(), window);
  // Then every window holds a pixel (PyTorch's bound too).
  if (window.padding[0] > window.kernel[0] / 2 || window.padding[1] > window.kernel[1] / 2)
    fail<ValueError>("max_pool2d: expected padding at most half the kernel (", window.kernel[0],
                     ", ", window.kernel[1], "), got (", window.padding[0], ", ", window.padding[1],
                     ")");
  const Shape out_shape{g.batch, g.channels, g.out_height, g.out_width};
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device(), "max_pool2d");
  Tensor indices = Tensor::empty(out_shape, DType::i64, x.device(), "max_pool2d");
  backend_of(x).max_pool2d(contiguous_data(x), g, out, indices);
  return record("max_pool2d", {x}, out, {}, [indices, g](Node&, const Tensor& grad) -> GradList {
    // Each plane's gradient goes to the pixels its indices name.
    const std::int64_t planes = g.batch * g.channels;
    const std::int64_t positions = g.out_height * g.out_width;
    return {gather_backward(grad.reshape({planes, positions}), {planes, g.height * g.width}, 1,
                            indices.reshape({planes, positions}))
                .reshape({g.batch, g.channels, g.height, g.width})};
  });
}

Tensor im2col(const Tensor& x, const ConvWindow& window) {
  check_floating("im2col", x);
  const backend::ConvGeometry g = geometry("im2col", x.shape(), window);
  Tensor columns = Tensor::empty(columns_shape("im2col", g), x.dtype(), x.device(), "im2col");
  backend_of(x).im2col(contiguous_data(x), g, columns);
  return record("im2col", {x}, columns, {},
                [size = x.shape(), window](Node&, const Tensor& grad) -> GradList {
                  return {col2im(grad, size, window)};
                });
}

Tensor col2im(const Tensor& columns, const Shape& size, const ConvWindow& window) {
  check_floating("col2im", columns);
  const backend::ConvGeometry g = geometry("col2im", size, window);
  if (columns.shape() != columns_shape("col2im", g))
    fail<ShapeError>("col2im: expected columns ", columns_shape("col2im", g), " for an input ",
                     size, ", got ", columns.shape());
  Tensor image = Tensor::empty(size, columns.dtype(), columns.device(), "col2im");
  backend_of(columns).col2im(contiguous_data(columns), g, image);
  return record("col2im", {columns}, image, {},
                [window](Node&, const Tensor& grad) -> GradList { return {im2col(grad, window)}; });
}

}  // namespace tether
