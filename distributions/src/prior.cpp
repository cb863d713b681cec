#include "tether/distributions/prior.h"

namespace tether::distributions {

Prior prior(std::shared_ptr<const Distribution> distribution) {
  std::string name = distribution->name();
  const auto log_density = [distribution](const Tensor& value) {
    return distribution->log_prob(value);
  };
  const auto converted = [distribution](const TensorConversion& convert) {
    return prior(distribution->converted(convert));
  };
  return {std::move(name), log_density, converted};
}

}  // namespace tether::distributions
