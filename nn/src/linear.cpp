#include "tether/nn/linear.h"

#include <cmath>

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

Tensor uniform(const Shape& shape, double bound, const TensorOptions& options) {
  return rand(shape, options.with_requires_grad(false)) * (2 * bound) - bound;
}

}  // namespace

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias,
               TensorOptions options) {
  if (in_features <= 0 || out_features <= 0)
    fail<ValueError>("Linear: feature counts must be positive, got ", in_features, " and ",
                     out_features);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  register_parameter("weight", weight, uniform({out_features, in_features}, bound, options));
  if (bias) register_parameter("bias", this->bias, uniform({out_features}, bound, options));
}

Tensor Linear::forward(const Tensor& x) {
  const Tensor w = weight->value();
  if (x.dim() < 1 || x.size(-1) != w.size(1))
    fail<ShapeError>("Linear: expected input [..., ", w.size(1), "], got ", x.shape());
  return linear(x, w, bias ? bias->value() : Tensor());
}

}  // namespace tether::nn
