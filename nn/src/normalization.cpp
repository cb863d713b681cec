#include "tether/nn/normalization.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

/// The last dims of x, which must be `normalized_shape`, as negative dims.
Dims normalized_dims(const char* layer, const Shape& normalized_shape, const Tensor& x) {
  const int count = normalized_shape.size();
  const Shape& shape = x.shape();
  if (shape.size() < count ||
      !std::equal(normalized_shape.begin(), normalized_shape.end(), shape.end() - count))
    fail<ShapeError>(layer, ": expected input [..., ", normalized_shape, "], got ", shape);
  Dims dims;
  for (int d = -count; d < 0; ++d) dims.push_back(d);
  return dims;
}

void check_normalized_shape(const char* layer, const Shape& normalized_shape) {
  if (normalized_shape.empty() || normalized_shape.numel() <= 0)
    fail<ValueError>(layer, ": expected a non-empty normalized_shape of positive extents, got ",
                     normalized_shape);
}

}  // namespace

LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine,
                     TensorOptions options)
    : normalized_shape_(normalized_shape), eps_(eps) {
  check_normalized_shape("LayerNorm", normalized_shape);
  if (elementwise_affine) {
    register_parameter("weight", weight, ones(normalized_shape, options.with_requires_grad(false)));
    register_parameter("bias", bias, zeros(normalized_shape, options.with_requires_grad(false)));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const Dims dims = normalized_dims("LayerNorm", normalized_shape_, x);
  const Tensor centred = x - mean(x, dims, true);
  const Tensor y = centred * rsqrt(var(x, dims, 0, true) + eps_);
  return weight ? y * weight->value() + bias->value() : y;
}

BatchNorm::BatchNorm(std::string layer, std::int64_t num_features, double eps, double momentum,
                     bool affine, TensorOptions options)
    : layer_(std::move(layer)), num_features_(num_features), eps_(eps), momentum_(momentum) {
  if (num_features <= 0)
    fail<ValueError>(layer_, ": expected a positive num_features, got ", num_features);
  const TensorOptions buffer = options.with_requires_grad(false);
  if (affine) {
    register_parameter("weight", weight, ones({num_features}, buffer));
    register_parameter("bias", bias, zeros({num_features}, buffer));
  }
  running_mean = zeros({num_features}, buffer);
  running_var = ones({num_features}, buffer);
  num_batches_tracked = zeros({}, buffer.with_dtype(DType::i64));
  register_buffer("running_mean", running_mean);
  register_buffer("running_var", running_var);
  register_buffer("num_batches_tracked", num_batches_tracked);
}

Tensor BatchNorm::normalize(const Tensor& x) {
  if (is_training()) {
    const std::int64_t count = x.numel() / num_features_;
    if (count < 2)
      fail<ValueError>(layer_, ": expected more than one value per channel in training, got ",
                       x.shape());
    // One fused node (ops.h's batch_norm), which hands back the batch's statistics.
    const std::vector<Tensor> normalized =
        batch_norm(x, weight ? weight->value() : Tensor(), bias ? bias->value() : Tensor(), eps_);
    NoGradGuard no_grad;
    const double unbiased = static_cast<double>(count) / static_cast<double>(count - 1);
    running_mean.mul_(1 - momentum_).add_(normalized[1], momentum_);
    running_var.mul_(1 - momentum_).add_(normalized[2], momentum_ * unbiased);
    num_batches_tracked.add_(1);
    return normalized[0];
  }
  // Statistics of shape [C] broadcast against x [N, C, ...] as [C, 1, ...].
  Shape per_channel{num_features_};
  for (std::int64_t d = 2; d < x.dim(); ++d) per_channel.push_back(1);
  // As PyTorch's CPU kernel: y = x * scale + shift, with scale = weight /
  // sqrt(var + eps) and shift = bias - mean * scale computed per channel.
  Tensor scale = rsqrt(running_var + eps_);
  if (weight) scale = scale * weight->value();
  Tensor shift = -running_mean * scale;
  if (weight) shift = shift + bias->value();
  return x * scale.reshape(per_channel) + shift.reshape(per_channel);
}

BatchNorm1d::BatchNorm1d(std::int64_t num_features, double eps, double momentum, bool affine,
                         TensorOptions options)
    : BatchNorm("BatchNorm1d", num_features, eps, momentum, affine, options) {}

Tensor BatchNorm1d::forward(const Tensor& x) {
  if ((x.dim() != 2 && x.dim() != 3) || x.size(1) != num_features_)
    fail<ShapeError>("BatchNorm1d: expected input [N, ", num_features_, "] or [N, ", num_features_,
                     ", L], got ", x.shape());
  return normalize(x);
}

BatchNorm2d::BatchNorm2d(std::int64_t num_features, double eps, double momentum, bool affine,
                         TensorOptions options)
    : BatchNorm("BatchNorm2d", num_features, eps, momentum, affine, options) {}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != num_features_)
    fail<ShapeError>("BatchNorm2d: expected input [N, ", num_features_, ", H, W], got ", x.shape());
  return normalize(x);
}

RMSNorm::RMSNorm(Shape normalized_shape, std::optional<double> eps, bool elementwise_affine,
                 TensorOptions options)
    : normalized_shape_(normalized_shape), eps_(eps) {
  check_normalized_shape("RMSNorm", normalized_shape);
  if (elementwise_affine)
    register_parameter("weight", weight, ones(normalized_shape, options.with_requires_grad(false)));
}

Tensor RMSNorm::forward(const Tensor& x) {
  const Dims dims = normalized_dims("RMSNorm", normalized_shape_, x);
  const double eps = eps_.value_or(x.dtype() == DType::f64 ? std::numeric_limits<double>::epsilon()
                                                           : std::numeric_limits<float>::epsilon());
  const Tensor y = x * rsqrt(mean(x * x, dims, true) + eps);
  return weight ? y * weight->value() : y;
}

GroupNorm::GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps, bool affine,
                     TensorOptions options)
    : num_groups_(num_groups), num_channels_(num_channels), eps_(eps) {
  if (num_groups <= 0 || num_channels <= 0 || num_channels % num_groups != 0)
    fail<ValueError>("GroupNorm: expected num_groups dividing num_channels, both positive, got ",
                     num_groups, " and ", num_channels);
  if (affine) {
    register_parameter("weight", weight, ones({num_channels}, options.with_requires_grad(false)));
    register_parameter("bias", bias, zeros({num_channels}, options.with_requires_grad(false)));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  if (x.dim() < 2 || x.size(1) != num_channels_)
    fail<ShapeError>("GroupNorm: expected input [N, ", num_channels_, ", ...], got ", x.shape());
  const Shape& shape = x.shape();
  // Each group's channels and positions in one row: [N, groups, elements per group].
  const std::int64_t per_group = x.size(0) == 0 ? 0 : x.numel() / (x.size(0) * num_groups_);
  const Tensor grouped = x.reshape({x.size(0), num_groups_, per_group});
  const Tensor centred = grouped - mean(grouped, {2}, true);
  const Tensor y = (centred * rsqrt(var(grouped, {2}, 0, true) + eps_)).reshape(shape);
  if (!weight) return y;
  std::vector<std::int64_t> extents(shape.size(), 1);
  extents[1] = num_channels_;
  const Shape per_channel(extents);
  return y * weight->value().reshape(per_channel) + bias->value().reshape(per_channel);
}

}  // namespace tether::nn
