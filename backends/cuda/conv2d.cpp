// The fused convolution on the GPU, composed of this backend's own kernels
// over the whole batch (the GPU's memory is large, so cpu/conv.cpp's chunking
// buys nothing here): im2col, one batched cuBLAS product over the groups,
// then a copy into [N, O, H_out, W_out] with the bias added in place; the
// backward runs the same products transposed and col2im.
#include "cuda_backend.h"

namespace tether::backend::cuda {
namespace {

/// The extents of a convolution of geometry g with `groups` groups and O outputs.
struct ConvExtents {
  std::int64_t groups, outputs, group_outputs, group_rows, columns, positions;

  ConvExtents(const ConvGeometry& g, std::int64_t groups_, std::int64_t outputs_)
      : groups(groups_),
        outputs(outputs_),
        group_outputs(outputs_ / groups_),
        group_rows(g.channels / groups_ * g.kernel_h * g.kernel_w),
        columns(g.batch * g.out_height * g.out_width),
        positions(g.out_height * g.out_width) {}

  /// [G, O / G, K]: the weight's rows per group, of contiguous `weight`.
  Tensor grouped_weight(const Tensor& weight) const {
    return Tensor::view_of(weight, {groups, group_outputs, group_rows},
                           {group_outputs * group_rows, group_rows, 1}, weight.storage_offset());
  }
  /// Contiguous columns [C * kh * kw, N * L], as im2col and col2im take them.
  Tensor columns_for(const Tensor& in) const {
    return Tensor::empty({groups * group_rows, columns}, in.dtype(), in.device(), "conv2d");
  }
  /// [G, K, N * L]: `cols` by group.
  Tensor grouped_columns(const Tensor& cols) const {
    return Tensor::view_of(cols, {groups, group_rows, columns}, {group_rows * columns, columns, 1},
                           0);
  }
  /// [O, N, L]: `images` [N, O, H_out, W_out] (contiguous) with the channels first.
  Tensor channels_first(const Tensor& images) const {
    const std::int64_t batch = columns / positions;
    return Tensor::view_of(images, {outputs, batch, positions}, {positions, outputs * positions, 1},
                           images.storage_offset());
  }
};

}  // namespace

void CudaBackend::conv2d(const Tensor& in, const Tensor& weight, const Tensor& bias,
                         const ConvGeometry& geometry, std::int64_t groups, const Tensor& out) {
  const ConvExtents e(geometry, groups, weight.shape()[0]);
  const Tensor cols = e.columns_for(in);
  im2col(in, geometry, cols);
  const Tensor y =
      Tensor::empty({groups, e.group_outputs, e.columns}, in.dtype(), in.device(), "conv2d");
  matmul(e.grouped_weight(weight), e.grouped_columns(cols), y);
  const Tensor rows =
      Tensor::view_of(y, e.channels_first(out).shape(), {e.columns, e.positions, 1}, 0);
  copy(rows, e.channels_first(out));
  if (bias.defined()) {
    const Tensor spread = Tensor::view_of(bias, out.shape(), {0, 1, 0, 0}, bias.storage_offset());
    binary(BinaryOp::add, out, spread, out);
  }
}

void CudaBackend::conv2d_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                                  const ConvGeometry& geometry, std::int64_t groups,
                                  const Tensor& grad_in, const Tensor& grad_weight,
                                  const Tensor& grad_bias) {
  const ConvExtents e(geometry, groups, weight.shape()[0]);
  // dy [G, O / G, N * L]: grad_out with the channels first, as the products want it.
  const Tensor dy =
      Tensor::empty({groups, e.group_outputs, e.columns}, in.dtype(), in.device(), "conv2d");
  copy(e.channels_first(grad_out),
       Tensor::view_of(dy, {e.outputs, e.columns / e.positions, e.positions},
                       {e.columns, e.positions, 1}, 0));
  if (grad_bias.defined())
    reduce(ReduceOp::sum, Tensor::view_of(dy, {e.outputs, e.columns}, {e.columns, 1}, 0), 2,
           Tensor::view_of(grad_bias, {e.outputs, 1}, {1, 1}, grad_bias.storage_offset()));
  const Tensor cols = e.columns_for(in);
  if (grad_weight.defined()) {
    im2col(in, geometry, cols);
    const Tensor cols_t = Tensor::view_of(cols, {groups, e.columns, e.group_rows},
                                          {e.group_rows * e.columns, 1, e.columns}, 0);
    matmul(dy, cols_t, e.grouped_weight(grad_weight));
  }
  if (grad_in.defined()) {
    const Tensor weight_t =
        Tensor::view_of(weight, {groups, e.group_rows, e.group_outputs},
                        {e.group_outputs * e.group_rows, 1, e.group_rows}, weight.storage_offset());
    matmul(weight_t, dy, e.grouped_columns(cols));
    col2im(cols, geometry, grad_in);
  }
}

}  // namespace tether::backend::cuda
