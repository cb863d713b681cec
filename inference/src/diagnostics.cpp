#include "tether/inference/diagnostics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::inference {
namespace {

/// One coordinate's draws, chain by chain.
using Chains = std::vector<std::vector<double>>;

double mean(const std::vector<double>& x) {
  return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double sample_variance(const std::vector<double>& x) {
  const double m = mean(x);
  double sum = 0.0;
  for (double v : x) sum += (v - m) * (v - m);
  return sum / static_cast<double>(x.size() - 1);
}

/// W, the mean within-chain variance, and var+ = (n - 1) / n W + B / n, the
/// pooled estimate of the posterior variance (BDA3, section 11.4).
struct Variances {
  double within;
  double pooled;
};

Variances variances(const Chains& chains) {
  const double n = static_cast<double>(chains[0].size());
  std::vector<double> means, within;
  for (const auto& chain : chains) {
    means.push_back(mean(chain));
    within.push_back(sample_variance(chain));
  }
  const double w = mean(within);
  const double between_over_n = chains.size() > 1 ? sample_variance(means) : 0.0;
  return {w, (n - 1.0) / n * w + between_over_n};
}

/// The autocovariance of x at `lag`, divided by n (the biased estimate
/// Geyer's sequence is proven for).
double autocovariance(const std::vector<double>& x, double mean, std::size_t lag) {
  double sum = 0.0;
  for (std::size_t t = 0; t + lag < x.size(); ++t) sum += (x[t] - mean) * (x[t + lag] - mean);
  return sum / static_cast<double>(x.size());
}

double ess(const Chains& chains) {
  const std::size_t n = chains[0].size();
  const double total = static_cast<double>(n * chains.size());
  const Variances v = variances(chains);
  if (!(v.pooled > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> means;
  for (const auto& chain : chains) means.push_back(mean(chain));
  // Stan's combined autocorrelation: the chains' mean autocovariance,
  // corrected by the between-chain variance when chains disagree. Computed
  // lag by lag, only as far as the sequence below reads: O(n) per lag.
  auto rho = [&](std::size_t lag) {
    double mean_acov = 0.0;
    for (std::size_t c = 0; c < chains.size(); ++c)
      mean_acov += autocovariance(chains[c], means[c], lag) / static_cast<double>(chains.size());
    return 1.0 - (v.within - mean_acov) / v.pooled;
  };
  // Geyer (1992): sums of adjacent pairs are positive and decreasing for a
  // reversible chain; stop at the first negative one and enforce monotonicity.
  double sum_pairs = 0.0;
  double previous = std::numeric_limits<double>::infinity();
  for (std::size_t t = 0; t + 1 < n; t += 2) {
    const double pair = std::min(rho(t) + rho(t + 1), previous);
    if (pair < 0.0) break;
    sum_pairs += pair;
    previous = pair;
  }
  const double tau = std::max(-1.0 + 2.0 * sum_pairs, 1.0 / std::log10(total));
  return total / tau;
}

double rhat(const Chains& chains) {
  Chains halves;
  for (const auto& chain : chains) {
    const auto middle = chain.begin() + static_cast<std::ptrdiff_t>(chain.size() / 2);
    halves.emplace_back(chain.begin(), middle);
    // An odd draw count drops the middle draw, so both halves have one length.
    halves.emplace_back(chain.end() - static_cast<std::ptrdiff_t>(chain.size() / 2), chain.end());
  }
  const Variances v = variances(halves);
  return std::sqrt(v.pooled / v.within);
}

/// Applies `statistic` to each coordinate of chains [num_chains, num_draws, ...].
template <class Statistic>
Tensor per_coordinate(const char* op, const Tensor& chains, Statistic statistic) {
  check_defined(op, chains);
  if (chains.dim() < 2 || chains.size(1) < 4)
    fail<ShapeError>(op, ": expected draws of shape [num_chains, num_draws >= 4, ...], got ",
                     chains.shape());
  const std::int64_t num_chains = chains.size(0), num_draws = chains.size(1);
  const std::int64_t coordinates = chains.numel() / (num_chains * num_draws);
  const std::vector<double> values = chains.contiguous().to_vector<double>();
  std::vector<double> result(coordinates);
  Chains one(num_chains, std::vector<double>(num_draws));
  for (std::int64_t k = 0; k < coordinates; ++k) {
    for (std::int64_t c = 0; c < num_chains; ++c)
      for (std::int64_t i = 0; i < num_draws; ++i)
        one[c][i] = values[(c * num_draws + i) * coordinates + k];
    result[k] = statistic(one);
  }
  Shape shape;
  for (int d = 2; d < chains.dim(); ++d) shape.push_back(chains.size(d));
  return tensor(result, shape, DType::f64);
}

}  // namespace

Tensor effective_sample_size(const Tensor& chains) {
  return per_coordinate("effective_sample_size", chains, ess);
}

Tensor split_rhat(const Tensor& chains) {
  return per_coordinate("split_rhat", chains, rhat);
}

}  // namespace tether::inference
