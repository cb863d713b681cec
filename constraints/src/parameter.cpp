#include "tether/parameter.h"

namespace tether {

RawParameter::RawParameter(Tensor tensor) : tensor_(std::move(tensor)) {
  if (tensor_.is_floating_point() && !tensor_.requires_grad()) tensor_.requires_grad_();
}

std::shared_ptr<Parameter> make_parameter(Tensor tensor) {
  return std::make_shared<RawParameter>(std::move(tensor));
}

}  // namespace tether
