// The eight schools (Rubin 1981; Gelman et al., Bayesian Data Analysis, 3rd
// ed., section 5.5): coaching effects y_j measured with known standard errors
// sigma_j in eight schools, pooled by a hierarchical model. In its
// non-centred form,
//
//   mu ~ Normal(0, 5),  tau ~ HalfCauchy(0, 5),  theta_tilde_j ~ Normal(0, 1),
//   theta_j = mu + tau theta_tilde_j,  y_j ~ Normal(theta_j, sigma_j),
//
// tau is a ComputedParameter, exp of an unconstrained raw input, whose prior
// Module::log_prior prices together with the Jacobian of exp: the density over
// the raw space that HMC and ADVI explore (tether::inference's module
// overloads). Both fits are printed beside posteriordb's reference posterior
// for this exact model, "eight_schools-eight_schools_noncentered" (Magnusson
// et al., github.com/stan-dev/posteriordb: Stan, 10 chains of 10,000 draws
// thinned to 1,000, adapt_delta 0.95), whose published summary gives each mean
// and its Monte Carlo standard error
// (reference_posteriors/summary_statistics/mean/mean/eight_schools-eight_schools_noncentered.json).
// It publishes no sds: the ones shown are its mcse_mean times sqrt(10,000),
// the sd its thinned, nearly independent draws imply.
//
// Mean-field ADVI is shown as it is: a product of independent Gaussians over
// (mu, log tau, theta_tilde) cannot follow the posterior's dependence between
// tau and theta_tilde, and on this model it underestimates tau and the
// spread of the school effects (Yao et al. 2018, "Yes, but did it work?").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <string>

#include "svg.h"

namespace {

using namespace tether;

constexpr std::int64_t kSchools = 8;

Tensor f64(std::vector<double> values) {
  return tensor(values, DType::f64);
}

class EightSchools : public nn::Module {
 public:
  std::shared_ptr<Parameter> mu, tau, theta_tilde;
  const Tensor y = f64({28, 8, -3, 7, -1, 1, 18, 12});
  const Tensor sigma = f64({15, 10, 16, 11, 9, 11, 10, 18});

  EightSchools() {
    register_parameter("mu", mu, scalar_tensor(0.0, DType::f64));
    register_parameter("tau", tau, scalar_tensor(1.0, DType::f64));
    register_parameter("theta_tilde", theta_tilde, zeros({kSchools}, DType::f64));
    // tau = exp(raw): the raw input starts at log 1 = 0.
    tau = constrain(tau, constraints::positive(constraints::PositiveMap::exp));
    // Priors go on the final slots: constrain() makes a new parameter.
    mu->set_prior(distributions::prior(distributions::Normal(scalar_tensor(0.0, DType::f64), 5.0)));
    tau->set_prior(distributions::prior(distributions::HalfCauchy(scalar_tensor(5.0, DType::f64))));
    theta_tilde->set_prior(
        distributions::prior(distributions::Normal(zeros({kSchools}, DType::f64), 1.0)));
  }

  Tensor log_likelihood() {
    const Tensor theta = mu->value() + tau->value() * theta_tilde->value();
    return distributions::Normal(theta, sigma).log_prob(y).sum();
  }
};

/// theta = mu + tau theta_tilde for every draw of the slots' values: [N, 8].
Tensor school_effects(const std::map<std::string, Tensor>& values) {
  return values.at("mu").unsqueeze(1) + values.at("tau").unsqueeze(1) * values.at("theta_tilde");
}

/// posteriordb's reference for one quantity: its mean and that mean's MCSE.
struct Reference {
  double mean, mcse;
  double sd() const { return mcse * 100.0; }  // sqrt(10,000 nearly independent draws)
};
const Reference kMu{4.41051833695493, 0.0330374705950917};
const Reference kTau{3.60205952364059, 0.0318615135640706};
const std::array<Reference, kSchools> kTheta{{{6.15050229334425, 0.0557375282295219},
                                              {4.9395811407422, 0.0462293788624847},
                                              {3.90590609001582, 0.0542313705632124},
                                              {4.79601675138494, 0.0474935816762281},
                                              {3.6144363246799, 0.0461450610244603},
                                              {4.0511475789675, 0.0485195392528031},
                                              {6.31716975886893, 0.0498766794075794},
                                              {4.88399694353288, 0.0542511606560972}}};

/// One row of the table: a quantity's draws from both fits.
struct Summary {
  double mean, sd, ess, rhat;
};

/// Mean, sd and, for chains [num_chains, num_draws] of one quantity, ESS and R-hat.
Summary summarize(const Tensor& chains) {
  const Tensor flat = chains.reshape({-1});
  return {flat.mean().item<double>(), std::sqrt(flat.var().item<double>()),
          chains.size(0) > 1 ? inference::effective_sample_size(chains).item<double>() : NAN,
          chains.size(0) > 1 ? inference::split_rhat(chains).item<double>() : NAN};
}

void print_row(const std::string& name, const Reference& reference, const Summary& hmc,
               const Summary& advi) {
  std::cout << std::setw(10) << std::left << name << std::right << std::setw(8) << reference.mean
            << std::setw(7) << reference.sd() << " |" << std::setw(8) << hmc.mean << std::setw(7)
            << hmc.sd << std::setw(7) << hmc.sd / std::sqrt(hmc.ess) << std::setw(7)
            << std::lround(hmc.ess) << std::setw(7) << hmc.rhat << " |" << std::setw(8) << advi.mean
            << std::setw(7) << advi.sd << '\n';
}

/// Whether the HMC mean lies within 3 MCSE of the reference, the two Monte
/// Carlo errors combined (the reference's own is a third of ours or less).
bool within_three_mcse(const std::string& name, const Reference& reference, const Summary& hmc) {
  const double mcse = std::hypot(hmc.sd / std::sqrt(hmc.ess), reference.mcse);
  const double distance = std::abs(hmc.mean - reference.mean);
  const bool ok = distance <= 3.0 * mcse;
  std::cout << name << ": |HMC mean - reference| = " << distance << (ok ? " <= " : " > ")
            << "3 MCSE = " << 3.0 * mcse << (ok ? "  (agrees)" : "  (DISAGREES)") << '\n';
  return ok;
}

/// A histogram of `draws` over [lo, hi] as a density (area 1 over all draws),
/// drawn as a filled step band.
void histogram(examples::SvgPlot& plot, const std::vector<double>& draws, double lo, double hi,
               const std::string& color) {
  constexpr int kBins = 40;
  const double width = (hi - lo) / kBins;
  std::vector<double> counts(kBins, 0.0);
  for (double x : draws)
    if (x >= lo && x < hi) counts[static_cast<int>((x - lo) / width)] += 1.0;
  std::vector<double> xs, zero, height;
  for (int b = 0; b < kBins; ++b)
    for (double edge : {lo + b * width, lo + (b + 1) * width}) {
      xs.push_back(edge);
      zero.push_back(0.0);
      height.push_back(counts[b] / (static_cast<double>(draws.size()) * width));
    }
  plot.band(xs, zero, height, color, 0.5);
}

/// One panel: HMC's histogram of a quantity, ADVI's density of it, and a
/// vertical line at the reference mean.
examples::SvgPlot panel(const std::string& name, const std::vector<double>& hmc_draws,
                        const distributions::Distribution& advi_q, double lo, double hi,
                        double reference_mean) {
  examples::SvgPlot plot(name + ": HMC (blue), ADVI (orange), reference mean (black)", name,
                         "density");
  histogram(plot, hmc_draws, lo, hi, "#6baed6");
  const Tensor grid = linspace(lo + 1e-3, hi, 200, DType::f64);
  const std::vector<double> density = advi_q.log_prob(grid).exp().to_vector<double>();
  plot.line(grid.to_vector<double>(), density, "#e6550d");
  double top = 0.0;
  for (double d : density) top = std::max(top, d);
  plot.line({reference_mean, reference_mean}, {0.0, top}, "#000000");
  return plot;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t draws = 1000, warmup = 1000, chains = 4, advi_steps = 3000;
  int seed = 0;
  bool check = false, nuts = false;
  std::string svg = "eight_schools.svg";
  CLI::App app(
      "Fit the non-centred eight schools model by HMC and by mean-field ADVI and compare both "
      "with posteriordb's reference posterior.");
  app.add_option("--draws", draws, "HMC draws kept per chain")->capture_default_str();
  app.add_option("--warmup", warmup, "HMC warm-up iterations per chain")->capture_default_str();
  app.add_option("--chains", chains, "HMC chains")->capture_default_str();
  app.add_option("--advi-steps", advi_steps, "ADVI Adam steps")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--svg", svg, "SVG file to write")->capture_default_str();
  app.add_flag("--nuts", nuts, "sample with NUTS instead of static HMC");
  app.add_flag("--check", check,
               "exit with status 1 unless HMC's means of mu and tau are within 3 MCSE of the "
               "reference");
  CLI11_PARSE(app, argc, argv);
  manual_seed(static_cast<std::uint64_t>(seed));

  EightSchools model;
  const auto log_likelihood = [&] { return model.log_likelihood(); };
  const inference::ModuleHmcResult hmc = inference::hmc(model, log_likelihood,
                                                        {.num_warmup = warmup,
                                                         .num_draws = draws,
                                                         .num_chains = chains,
                                                         .init_jitter = 2.0,
                                                         .trajectory_length = 3.0,
                                                         .nuts = nuts,
                                                         .target_accept = 0.9});
  const inference::ModuleAdviResult advi =
      inference::advi(model, log_likelihood,
                      {.num_steps = advi_steps, .num_samples = 8, .lr = 0.02, .num_draws = 4000});

  // Per quantity [chains, draws]: mu, tau and theta are constrained values,
  // so their ESS and R-hat are those of the quantities reported.
  const auto as_chains = [&](const Tensor& values) { return values.reshape({chains, draws}); };
  const Tensor hmc_theta = school_effects(hmc.values), advi_theta = school_effects(advi.values);
  const Summary hmc_mu = summarize(as_chains(hmc.values.at("mu")));
  const Summary hmc_tau = summarize(as_chains(hmc.values.at("tau")));
  const Summary advi_mu = summarize(advi.values.at("mu").unsqueeze(0));
  const Summary advi_tau = summarize(advi.values.at("tau").unsqueeze(0));

  std::cout << std::fixed << std::setprecision(2) << (nuts ? "NUTS: " : "HMC: ") << chains
            << " chains x " << draws << " draws after " << warmup << " warm-up, acceptance "
            << hmc.acceptance_rate << ", divergences " << hmc.divergences << ", step sizes";
  for (double step : hmc.step_sizes) std::cout << ' ' << step;
  std::cout << "\nADVI: " << advi_steps << " Adam steps, final ELBO estimate " << advi.elbo.back()
            << "\n\n"
            << "          reference      | HMC                                | ADVI\n"
            << "param         mean     sd |    mean     sd   MCSE    ESS  R-hat |    mean     sd\n";
  print_row("mu", kMu, hmc_mu, advi_mu);
  print_row("tau", kTau, hmc_tau, advi_tau);
  for (std::int64_t j = 0; j < kSchools; ++j)
    print_row("theta[" + std::to_string(j + 1) + "]", kTheta[j],
              summarize(as_chains(hmc_theta.select(1, j).contiguous())),
              summarize(advi_theta.select(1, j).unsqueeze(0)));

  std::cout << '\n';
  const bool mu_agrees = within_three_mcse("mu", kMu, hmc_mu);
  const bool tau_agrees = within_three_mcse("tau", kTau, hmc_tau);
  // Pooling: how far apart the schools' posterior means lie.
  const auto spread = [](const Tensor& theta) {
    const Tensor means = theta.mean({0});
    return (means.amax() - means.amin()).item<double>();
  };
  const auto [lowest, highest] =
      std::minmax_element(kTheta.begin(), kTheta.end(),
                          [](const Reference& a, const Reference& b) { return a.mean < b.mean; });
  std::cout << "ADVI's bias: tau mean " << advi_tau.mean << " and sd " << advi_tau.sd << " vs "
            << kTau.mean << " and " << kTau.sd() << " (reference), so it pools the schools more:"
            << " their theta means span " << spread(advi_theta) << " vs "
            << highest->mean - lowest->mean << " (reference) and " << spread(hmc_theta)
            << " (HMC).\n"
            << "Mean-field q over (mu, log tau, theta_tilde) cannot follow how the posterior of "
               "theta_tilde depends on tau, and settles at a smaller tau.\n";

  // ADVI's q over the raw coordinates is Normal: mu's density is that Normal's,
  // tau = exp(raw)'s is the LogNormal with the same parameters.
  const Tensor advi_mean = advi.means[0], advi_sd = advi.sds[0];
  const Tensor advi_log_tau_mean = advi.means[1], advi_log_tau_sd = advi.sds[1];
  examples::SvgPlot::save_side_by_side(
      {panel("mu", hmc.values.at("mu").to_vector<double>(),
             distributions::Normal(advi_mean, advi_sd), -10.0, 20.0, kMu.mean),
       panel("tau", hmc.values.at("tau").to_vector<double>(),
             distributions::LogNormal(advi_log_tau_mean, advi_log_tau_sd), 0.0, 15.0, kTau.mean)},
      svg);
  std::cout << "wrote " << svg << '\n';
  return check && !(mu_agrees && tau_agrees) ? 1 : 0;
}
