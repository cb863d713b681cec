// Normalisation layers: LayerNorm (per sample) and BatchNorm1d (per channel,
// over the batch, with running statistics for eval mode).
#pragma once

#include <cstdint>

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

/// Normalises each channel of x [N, C] or [N, C, L] as torch.nn.BatchNorm1d.
/// Training: by the batch's mean and biased variance over N (and L), and the
/// running statistics move towards the batch's, running = (1 - momentum) *
/// running + momentum * batch, with the unbiased variance. Eval: by the
/// running statistics. Then * weight + bias per channel (initially 1 and 0).
class BatchNorm1d : public UnaryModule {
 public:
  explicit BatchNorm1d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, TensorOptions options = {});

  /// Throws ShapeError for another shape, and ValueError in training mode for
  /// a batch with one value per channel (its variance is undefined).
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Parameter> weight;  ///< [C], null without affine
  std::shared_ptr<Parameter> bias;    ///< [C], null without affine
  Tensor running_mean;                ///< [C], initially 0
  Tensor running_var;                 ///< [C], initially 1
  Tensor num_batches_tracked;         ///< i64 scalar: training batches seen

 private:
  std::int64_t num_features_;
  double eps_;
  double momentum_;
};

}  // namespace tether::nn
