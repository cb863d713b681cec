#include "tether/parameter.h"

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether {

void adopt_data(const Tensor& tensor, const Tensor& data) {
  TensorImpl& impl = *tensor.impl();
  impl.storage = data.storage();
  impl.shape = data.shape();
  impl.strides = data.strides();
  impl.offset = data.storage_offset();
  impl.dtype = data.dtype();
  impl.grad.reset();
}

void Parameter::replace_data(const TensorConversion& convert) {
  NoGradGuard no_grad;
  // Everything is converted before anything is replaced, so a conversion that
  // throws (an unavailable device) leaves the parameter as it was.
  std::optional<Prior> prior = prior_;
  if (prior && prior->converted) prior = prior->converted(convert);
  std::vector<std::pair<Tensor, Tensor>> replacements;
  const auto convert_all = [&](const NamedTensors& tensors) {
    for (const auto& [name, tensor] : tensors) {
      Tensor data = convert(tensor.detach());
      // to() returns a tensor already of that dtype and device as it is.
      if (data.storage() != tensor.storage()) replacements.emplace_back(tensor, std::move(data));
    }
  };
  convert_all(trainables());
  convert_all(buffers());
  for (const auto& [tensor, data] : replacements) adopt_data(tensor, data);
  prior_ = std::move(prior);
  if (!replacements.empty()) data_replaced();
}

void Parameter::to(DType dtype) {
  replace_data([dtype](const Tensor& t) { return t.is_floating_point() ? t.to(dtype) : t; });
}

void Parameter::to(Device device) {
  replace_data([device](const Tensor& t) { return t.to(device); });
}

void Parameter::set_prior(Prior prior) {
  if (!prior.log_density)
    fail<ValueError>("set_prior: the prior \"", prior.name, "\" has no log_density");
  prior_ = std::move(prior);
}

Tensor Parameter::log_prior(bool include_jacobian) {
  if (!prior_) fail<ValueError>("log_prior: the parameter has no prior (set_prior)");
  Tensor total = sum(prior_->log_density(value()));
  if (!include_jacobian) return total;
  try {
    return total + log_abs_det_jacobian();
  } catch (const ValueError& error) {
    // Say which way out there is: the value's own density needs no Jacobian.
    fail<ValueError>("log_prior with the Jacobian (prior ", prior_->name, "): ", error.what(),
                     "; log_prior(false) gives the density of the value instead");
  }
}

Tensor Parameter::log_abs_det_jacobian() {
  fail<ValueError>(
      "log_abs_det_jacobian: the parameter's trainables are kept on its set by a "
      "projection or retraction, not mapped onto it from unconstrained inputs, so "
      "there is no density over unconstrained inputs");
}

RawParameter::RawParameter(Tensor tensor) : tensor_(std::move(tensor)) {
  if (tensor_.is_floating_point() && !tensor_.requires_grad()) tensor_.requires_grad_();
}

Tensor RawParameter::log_abs_det_jacobian() {
  return zeros({}, tensor_.options());
}

std::shared_ptr<Parameter> make_parameter(Tensor tensor) {
  return std::make_shared<RawParameter>(std::move(tensor));
}

}  // namespace tether
