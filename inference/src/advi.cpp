#include "tether/inference/advi.h"

#include <cmath>

#include "flat_target.h"
#include "tether/distributions/continuous.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"
#include "tether/optim/optimizer.h"

namespace tether::inference {
namespace {

void check_options(const AdviOptions& options) {
  if (options.num_steps < 1)
    fail<ValueError>("advi: num_steps must be >= 1, got ", options.num_steps);
  if (options.num_samples < 1)
    fail<ValueError>("advi: num_samples must be >= 1, got ", options.num_samples);
  if (!(options.lr > 0.0) || !std::isfinite(options.lr))
    fail<ValueError>("advi: lr must be positive and finite, got ", options.lr);
  if (options.num_draws < 1)
    fail<ValueError>("advi: num_draws must be >= 1, got ", options.num_draws);
  if (!std::isfinite(options.initial_log_sigma))
    fail<ValueError>("advi: initial_log_sigma must be finite, got ", options.initial_log_sigma);
}

}  // namespace

AdviResult advi(const LogDensity& log_density, const std::vector<Tensor>& initial,
                const AdviOptions& options) {
  check_options(options);
  const detail::FlatTarget target("advi", log_density, initial);
  {
    NoGradGuard no_grad;
    target.check_initial_value(target.log_density(target.flat(target.initial())).item<double>());
  }
  Tensor mu = target.flat(target.initial()).requires_grad_();
  Tensor log_sigma =
      full({target.size()}, options.initial_log_sigma, target.dtype()).requires_grad_();
  optim::Adam adam({mu, log_sigma}, {.lr = options.lr});
  AdviResult result;
  const std::int64_t first_averaged = options.num_steps / 2;
  Tensor mu_sum = zeros({target.size()}, target.dtype());
  Tensor log_sigma_sum = zeros({target.size()}, target.dtype());
  for (std::int64_t step = 0; step < options.num_steps; ++step) {
    const distributions::Normal q(mu, log_sigma.exp());
    // Reparametrised draws mu + sigma * eps carry the ELBO's gradient to mu and log_sigma.
    const Tensor draws = q.rsample({options.num_samples});
    Tensor log_density_sum = scalar_tensor(0.0, target.dtype());
    for (std::int64_t s = 0; s < options.num_samples; ++s)
      log_density_sum = log_density_sum + target.log_density(draws.select(0, s));
    const Tensor elbo =
        log_density_sum / static_cast<double>(options.num_samples) + q.entropy().sum();
    const double value = elbo.item<double>();
    if (std::isnan(value)) fail<ValueError>("advi: the ELBO became nan at step ", step);
    result.elbo.push_back(value);
    adam.zero_grad();
    (-elbo).backward();
    adam.step();
    // At a fixed learning rate Adam's iterates keep jittering around the
    // optimum; averaging the second half of them (Polyak and Juditsky 1992)
    // removes most of that noise.
    if (step >= first_averaged) {
      NoGradGuard no_grad;
      mu_sum = mu_sum + mu;
      log_sigma_sum = log_sigma_sum + log_sigma;
    }
  }
  NoGradGuard no_grad;
  const double averaged = static_cast<double>(options.num_steps - first_averaged);
  const Tensor mean = mu_sum / averaged, sd = (log_sigma_sum / averaged).exp();
  result.means = target.split(mean.to_vector<double>(), target.dtype());
  result.sds = target.split(sd.to_vector<double>(), target.dtype());
  const Tensor draws = distributions::Normal(mean, sd).sample({options.num_draws});
  result.draws = target.stack_rows(draws.to_vector<double>(), options.num_draws, target.dtype());
  return result;
}

}  // namespace tether::inference
