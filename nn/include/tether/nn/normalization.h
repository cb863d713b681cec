// Normalisation layers: LayerNorm and RMSNorm (per sample), GroupNorm (per
// sample and group of channels), BatchNorm1d and BatchNorm2d (per channel,
// over the batch, with running statistics for eval mode).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tether/nn/module.h"

namespace tether::nn {

/// Normalises over the last dims, those of `normalized_shape`:
/// (x - mean) / sqrt(var + eps) with the biased variance, then, with
/// elementwise_affine, * weight + bias (both of normalized_shape, initially 1
/// and 0).
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     TensorOptions options = {});

  /// x [..., *normalized_shape] -> the same shape; throws ShapeError otherwise.
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Parameter> weight;  ///< null without elementwise_affine
  std::shared_ptr<Parameter> bias;    ///< null without elementwise_affine

 private:
  Shape normalized_shape_;
  double eps_;
};

/// x / sqrt(mean(x^2) + eps) over the last dims, those of normalized_shape
/// (Zhang and Sennrich, 2019), then * weight (of normalized_shape, initially
/// 1) with elementwise_affine, as torch.nn.RMSNorm. eps defaults to the
/// epsilon of x's dtype, as there.
class RMSNorm : public UnaryModule {
 public:
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt,
                   bool elementwise_affine = true, TensorOptions options = {});

  /// x [..., *normalized_shape] -> the same shape; throws ShapeError otherwise.
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Parameter> weight;  ///< null without elementwise_affine

 private:
  Shape normalized_shape_;
  std::optional<double> eps_;
};

/// The channels of x [N, C, ...] split into num_groups groups, each
/// normalised per sample over its channels and the other dims with the
/// biased variance, then * weight + bias per channel ([C], initially 1 and
/// 0) with affine, as torch.nn.GroupNorm. Throws ValueError unless
/// num_groups divides num_channels.
class GroupNorm : public UnaryModule {
 public:
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps = 1e-5,
            bool affine = true, TensorOptions options = {});

  /// x [N, C, ...] -> the same shape; throws ShapeError for another C or rank < 2.
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Parameter> weight;  ///< [C], null without affine
  std::shared_ptr<Parameter> bias;    ///< [C], null without affine

 private:
  std::int64_t num_groups_;
  std::int64_t num_channels_;
  double eps_;
};

/// Shared by BatchNorm1d and BatchNorm2d, as torch.nn's: each channel (dim 1)
/// normalised over every other dim. Training: by the batch's mean and biased
/// variance, and the running statistics move towards the batch's, running =
/// (1 - momentum) * running + momentum * batch, with the unbiased variance.
/// Eval: by the running statistics. Then * weight + bias per channel
/// (initially 1 and 0).
class BatchNorm : public UnaryModule {
 public:
  std::shared_ptr<Parameter> weight;  ///< [C], null without affine
  std::shared_ptr<Parameter> bias;    ///< [C], null without affine
  Tensor running_mean;                ///< [C], initially 0
  Tensor running_var;                 ///< [C], initially 1
  Tensor num_batches_tracked;         ///< i64 scalar: training batches seen

 protected:
  BatchNorm(std::string layer, std::int64_t num_features, double eps, double momentum, bool affine,
            TensorOptions options);
  /// x [N, C, ...] normalised per channel; throws ValueError in training mode
  /// for a batch with one value per channel (its variance is undefined).
  Tensor normalize(const Tensor& x);

  std::string layer_;
  std::int64_t num_features_;

 private:
  double eps_;
  double momentum_;
};

/// x [N, C] or [N, C, L], as torch.nn.BatchNorm1d (see BatchNorm).
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, TensorOptions options = {});

  /// Throws ShapeError for another shape, and as BatchNorm::normalize.
  Tensor forward(const Tensor& x) override;
};

/// x [N, C, H, W], statistics over N, H and W, as torch.nn.BatchNorm2d (see BatchNorm).
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, TensorOptions options = {});

  /// Throws ShapeError for another shape, and as BatchNorm::normalize.
  Tensor forward(const Tensor& x) override;
};

}  // namespace tether::nn
