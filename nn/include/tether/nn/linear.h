// Linear layer: y = x W^T + b.
#pragma once

#include "tether/nn/module.h"

namespace tether::nn {

class Linear : public UnaryModule {
 public:
  /// Weight [out_features, in_features] and bias [out_features], both drawn
  /// from U(-1/sqrt(in_features), 1/sqrt(in_features)) as in PyTorch.
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true,
         TensorOptions options = {});

  /// x [..., in_features] -> [..., out_features].
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Parameter> weight;
  std::shared_ptr<Parameter> bias;  ///< null without bias
};

}  // namespace tether::nn
