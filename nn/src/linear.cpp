#include "tether/nn/linear.h"

#include <cmath>

#include "tether/error.h"
#include "tether/nn/init.h"
#include "tether/ops.h"

namespace tether::nn {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias,
               TensorOptions options) {
  if (in_features <= 0 || out_features <= 0)
    fail<ValueError>("Linear: feature counts must be positive, got ", in_features, " and ",
                     out_features);
  const TensorOptions initial = options.with_requires_grad(false);
  register_parameter("weight", weight, zeros({out_features, in_features}, initial));
  // PyTorch's default: a = sqrt(5) makes the weight's bound 1/sqrt(in_features), the bias's too.
  init::kaiming_uniform_(*weight, std::sqrt(5.0));
  if (bias) {
    const double bound = 1 / std::sqrt(static_cast<double>(in_features));
    register_parameter("bias", this->bias, zeros({out_features}, initial));
    init::uniform_(*this->bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  const Tensor w = weight->value();
  if (x.dim() < 1 || x.size(-1) != w.size(1))
    fail<ShapeError>("Linear: expected input [..., ", w.size(1), "], got ", x.shape());
  return linear(x, w, bias ? bias->value() : Tensor());
}

}  // namespace tether::nn
