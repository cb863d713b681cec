// Batch normalization in training on the GPU, composed of this backend's own
// kernels over views of the input as [N, C, M] (cpu/batch_norm.cpp has the
// same formulas in per-channel loops): reductions over N and M with the
// channel kept, and element-wise ops with the per-channel values broadcast.
#include "cuda_backend.h"

namespace tether::backend::cuda {
namespace {

/// Views and scratch tensors for one batch normalization of `in` [N, C, M].
struct Channels {
  const Tensor& in;
  std::int64_t batch, channels, size;

  explicit Channels(const Tensor& input)
      : in(input),
        batch(input.shape()[0]),
        channels(input.shape()[1]),
        size(input.numel() / (batch * channels)) {}

  /// A fresh [N, C, M] tensor of in's dtype and device.
  Tensor full() const {
    return Tensor::empty({batch, channels, size}, in.dtype(), in.device(), "batch_norm");
  }
  /// `t` (contiguous, N * C * M elements) seen as [N, C, M].
  Tensor planes(const Tensor& t) const {
    return Tensor::view_of(t, {batch, channels, size}, {channels * size, size, 1},
                           t.storage_offset());
  }
  /// `t` [C] (contiguous) seen as [1, C, 1], the shape a reduction over N and M writes.
  Tensor reduced(const Tensor& t) const {
    return Tensor::view_of(t, {1, channels, 1}, {channels, 1, 1}, t.storage_offset());
  }
  /// `t` [C] broadcast to [N, C, M].
  Tensor spread(const Tensor& t) const {
    return Tensor::view_of(t, {batch, channels, size}, {0, 1, 0}, t.storage_offset());
  }
  /// A [C] tensor of in's dtype and device.
  Tensor per_channel() const {
    return Tensor::empty({channels}, in.dtype(), in.device(), "batch_norm");
  }
  /// A [C] tensor of `value` everywhere.
  Tensor constant(CudaBackend& b, double value) const {
    Tensor t = per_channel();
    b.fill(t, value);
    return t;
  }
};

/// The bits a reduction over N and M sets in its mask.
constexpr std::uint32_t kOverBatchAndPlane = 0b101;

/// 1 / sqrt(var + eps), per channel.
Tensor inverse_deviation(CudaBackend& b, const Channels& ch, const Tensor& var, double eps) {
  Tensor invstd = ch.per_channel();
  b.binary(BinaryOp::add, var, ch.constant(b, eps), invstd);
  b.unary(UnaryOp::rsqrt, invstd, invstd, {});
  return invstd;
}

}  // namespace

void CudaBackend::batch_norm(const Tensor& in, const Tensor& weight, const Tensor& bias, double eps,
                             const Tensor& out, const Tensor& mean, const Tensor& var) {
  const Channels ch(in);
  const Tensor x = ch.planes(in), y = ch.planes(out);
  const Tensor per_count = ch.constant(*this, 1.0 / static_cast<double>(ch.batch * ch.size));
  reduce(ReduceOp::sum, x, kOverBatchAndPlane, ch.reduced(mean));
  binary(BinaryOp::mul, mean, per_count, mean);
  const Tensor centred = ch.full();
  binary(BinaryOp::sub, x, ch.spread(mean), centred);
  binary(BinaryOp::mul, centred, centred, y);  // squares, in out's memory for now
  reduce(ReduceOp::sum, y, kOverBatchAndPlane, ch.reduced(var));
  binary(BinaryOp::mul, var, per_count, var);
  const Tensor invstd = inverse_deviation(*this, ch, var, eps);
  binary(BinaryOp::mul, centred, ch.spread(invstd), y);
  if (weight.defined()) binary(BinaryOp::mul, y, ch.spread(weight), y);
  if (bias.defined()) binary(BinaryOp::add, y, ch.spread(bias), y);
}

void CudaBackend::batch_norm_backward(const Tensor& grad_out, const Tensor& in,
                                      const Tensor& weight, const Tensor& mean, const Tensor& var,
                                      double eps, const Tensor& grad_in, const Tensor& grad_weight,
                                      const Tensor& grad_bias) {
  const Channels ch(in);
  const Tensor invstd = inverse_deviation(*this, ch, var, eps);
  const Tensor g = ch.planes(grad_out);
  // xhat = (x - mean) * invstd; sum_g and sum_gxhat per channel.
  const Tensor xhat = ch.full(), product = ch.full();
  binary(BinaryOp::sub, ch.planes(in), ch.spread(mean), xhat);
  binary(BinaryOp::mul, xhat, ch.spread(invstd), xhat);
  const Tensor sum_g = ch.per_channel(), sum_gxhat = ch.per_channel();
  reduce(ReduceOp::sum, g, kOverBatchAndPlane, ch.reduced(sum_g));
  binary(BinaryOp::mul, g, xhat, product);
  reduce(ReduceOp::sum, product, kOverBatchAndPlane, ch.reduced(sum_gxhat));
  if (grad_bias.defined()) copy(sum_g, grad_bias);
  if (grad_weight.defined()) copy(sum_gxhat, grad_weight);
  if (!grad_in.defined()) return;
  // dx = (g - sum_g / n - xhat * sum_gxhat / n) * invstd * weight.
  const Tensor per_count = ch.constant(*this, 1.0 / static_cast<double>(ch.batch * ch.size));
  binary(BinaryOp::mul, sum_g, per_count, sum_g);
  binary(BinaryOp::mul, sum_gxhat, per_count, sum_gxhat);
  const Tensor dx = ch.planes(grad_in);
  binary(BinaryOp::mul, xhat, ch.spread(sum_gxhat), product);
  binary(BinaryOp::sub, g, product, dx);
  binary(BinaryOp::sub, dx, ch.spread(sum_g), dx);
  binary(BinaryOp::mul, dx, ch.spread(invstd), dx);
  if (weight.defined()) binary(BinaryOp::mul, dx, ch.spread(weight), dx);
}

}  // namespace tether::backend::cuda
