#include "tether/distributions/prior.h"

namespace tether::distributions {

Prior prior(std::shared_ptr<const Distribution> distribution) {
  std::string name = distribution->name();
  return {std::move(name), [distribution = std::move(distribution)](const Tensor& value) {
            return distribution->log_prob(value);
          }};
}

}  // namespace tether::distributions
