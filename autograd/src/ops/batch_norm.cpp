// Batch normalization in training as one node: the backend computes the
// statistics and the output in a few passes per channel, and the backward in
// two. Only a backward that is itself recorded (create_graph) spells its
// gradients out in recorded ops (the statistics recomputed from x, so that
// they carry their own dependence on it), which then carry the higher orders.
#include "op_util.h"
#include "tether/grad_mode.h"

namespace tether {

using namespace ops;

namespace {

/// x's dims but 1, over which the statistics run.
Dims statistics_dims(const Tensor& x) {
  Dims over{0};
  for (int d = 2; d < x.dim(); ++d) over.push_back(d);
  return over;
}

/// `t` [C] as [1, C, 1, ...], against x.
Tensor per_channel(const Tensor& t, const Tensor& x) {
  Shape shape{1, x.size(1)};
  for (int d = 2; d < x.dim(); ++d) shape.push_back(1);
  return t.reshape(shape);
}

/// batch_norm's gradients for `grad`, written with recorded ops: with xhat =
/// (x - mean) * invstd and gw = grad * weight, dx = invstd * (gw - mean(gw) -
/// xhat * mean(gw * xhat)), dweight = sum(grad * xhat), dbias = sum(grad).
GradList batch_norm_backward_recorded(Node& n, const Tensor& grad, const Tensor& x,
                                      const Tensor& weight, double eps) {
  const Dims over = statistics_dims(x);
  const Tensor invstd = rsqrt(var(x, over, 0, true) + eps);
  const Tensor xhat = (x - mean(x, over, true)) * invstd;
  GradList grads(3);
  if (n.needs_grad(0)) {
    const Tensor gw = weight.defined() ? grad * per_channel(weight, x) : grad;
    grads[0] = invstd * (gw - mean(gw, over, true) - xhat * mean(gw * xhat, over, true));
  }
  if (n.needs_grad(1)) grads[1] = sum(grad * xhat, over);
  if (n.needs_grad(2)) grads[2] = sum(grad, over);
  return grads;
}

/// Checks that `t` (weight or bias), if defined, is [C] of x's dtype and device.
void check_per_channel(const Tensor& t, const Tensor& x, const char* what) {
  if (!t.defined()) return;
  check_same_dtype("batch_norm", x, t);
  check_same_device("batch_norm", x, t);
  if (t.shape() != Shape{x.size(1)})
    fail<ShapeError>("batch_norm: expected ", what, " [", x.size(1), "] for input ", x.shape(),
                     ", got ", t.shape());
}

}  // namespace

std::vector<Tensor> batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               double eps) {
  check_floating("batch_norm", x);
  if (x.dim() < 2) fail<ShapeError>("batch_norm: expected input [N, C, ...], got ", x.shape());
  check_per_channel(weight, x, "weight");
  check_per_channel(bias, x, "bias");
  const std::int64_t channels = x.size(1);
  if (channels == 0 || x.numel() / channels < 2)
    fail<ValueError>("batch_norm: expected more than one value per channel, got input ", x.shape());
  const Tensor data = contiguous_data(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device(), "batch_norm");
  Tensor batch_mean = Tensor::empty({channels}, x.dtype(), x.device(), "batch_norm");
  Tensor batch_var = Tensor::empty({channels}, x.dtype(), x.device(), "batch_norm");
  const auto operand = [](const Tensor& t) { return t.defined() ? contiguous_data(t) : Tensor(); };
  backend_of(x).batch_norm(data, operand(weight), operand(bias), eps, out, batch_mean, batch_var);
  out =
      record("batch_norm", {x, weight, bias}, out, {x, weight, batch_mean, batch_var},
             [eps, operand](Node& n, const Tensor& grad) -> GradList {
               const Tensor x = n.saved(0), weight = n.saved(1);
               if (is_grad_enabled()) return batch_norm_backward_recorded(n, grad, x, weight, eps);
               const auto wanted = [&](std::size_t input, const Shape& shape) {
                 return n.needs_grad(input)
                            ? Tensor::empty(shape, grad.dtype(), grad.device(), "batch_norm")
                            : Tensor();
               };
               GradList grads{wanted(0, x.shape()), wanted(1, {x.size(1)}), wanted(2, {x.size(1)})};
               backend_of(grad).batch_norm_backward(contiguous_data(grad), contiguous_data(x),
                                                    operand(weight), n.saved(2), n.saved(3), eps,
                                                    grads[0], grads[1], grads[2]);
               return grads;
             });
  return {out, batch_mean, batch_var};
}

}  // namespace tether
