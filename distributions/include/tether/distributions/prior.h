// Distributions as priors on parameters. The constraints layer holds a prior
// as a plain log density (tether::Prior) and knows no distributions; this is
// the adapter:
//
//   scale->set_prior(tether::distributions::prior(HalfNormal(1.0)));
//   Tensor lp = model.log_prior();  // sum of priors plus their log-Jacobians
#pragma once

#include <concepts>
#include <memory>
#include <utility>

#include "tether/distributions/distribution.h"
#include "tether/parameter.h"

namespace tether::distributions {

/// A prior whose log density is `distribution`'s log_prob, named after it. A
/// value outside the support is a ValueError when the distribution validates.
Prior prior(std::shared_ptr<const Distribution> distribution);

/// prior() of a copy of `distribution`: prior(HalfNormal(1.0)).
template <std::derived_from<Distribution> D>
Prior prior(D distribution) {
  return prior(std::make_shared<const D>(std::move(distribution)));
}

}  // namespace tether::distributions
