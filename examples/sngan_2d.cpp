// Two GANs on the classic ring of 8 Gaussians (radius 2), the standard test of
// mode collapse:
//
//  - sngan: the discriminator's Linear weights are spectrally normalised
//    (Miyato et al., 2018), one line per layer with
//    tether::spectrally_normalize, and trained with the hinge loss. Every
//    layer then has spectral norm 1, so the discriminator is 1-Lipschitz and
//    its scores stay small where real and generated samples mix: its loss
//    stays near 2 while its gradients still lead the generator to the modes;
//  - wgan-gp: a Wasserstein critic without normalisation whose gradient
//    penalty (Gulrajani et al., 2017), lambda * (||grad_x D(x_hat)|| - 1)^2 at
//    random points between real and fake samples, needs the gradient of a
//    gradient: autograd::grad with create_graph records the backward, and the
//    loss's backward goes through it.
//
// Coverage is measured on fresh generator samples: a sample is high quality
// when it lies within 3 standard deviations of a centre, and a mode is
// covered when at least 1% of the samples are high quality at it.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <numbers>
#include <optional>

#include "svg.h"

namespace {

using namespace tether;

constexpr std::int64_t kModes = 8;
constexpr std::int64_t kNoise = 2;

/// The centres of the ring, [8, 2]: radius 2, angles 2 pi k / 8.
Tensor ring_centres() {
  const Tensor angle =
      arange(kModes, DType::f32) * (2 * std::numbers::pi / static_cast<double>(kModes));
  return 2.0 * stack({cos(angle), sin(angle)}, 1);
}

/// n samples [n, 2] of the ring: a centre drawn uniformly plus N(0, std^2 I).
Tensor sample_ring(const Tensor& centres, std::int64_t n, double sigma) {
  const Tensor mode = (rand({n}) * static_cast<double>(kModes)).to(DType::i64);
  return centres.index_select(0, mode) + sigma * randn({n, 2});
}

/// in -> hidden -> hidden -> out with ReLUs, as in the WGAN-GP toy experiments.
std::shared_ptr<nn::Sequential> mlp(std::int64_t in, std::int64_t hidden, std::int64_t out) {
  return std::make_shared<nn::Sequential>(nn::Sequential::Layers{
      std::make_shared<nn::Linear>(in, hidden), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(hidden, hidden), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(hidden, out)});
}

/// Replaces the weight slot of every Linear in `net` by its spectral normalisation.
void spectrally_normalize_linears(nn::Sequential& net) {
  for (std::size_t i = 0; i < net.size(); ++i)
    if (const auto linear = std::dynamic_pointer_cast<nn::Linear>(net[i]))
      linear->weight = spectrally_normalize(linear->weight);
}

/// Hinge loss of a discriminator scoring real and fake samples.
Tensor hinge_loss(const Tensor& real_score, const Tensor& fake_score) {
  return relu(1.0 - real_score).mean() + relu(1.0 + fake_score).mean();
}

/// (||grad_x critic(x_hat)|| - 1)^2 averaged over x_hat, random points on the
/// segments between real and fake samples. The gradient is recorded
/// (create_graph), so the penalty's own gradient reaches the critic's weights.
Tensor gradient_penalty(nn::UnaryModule& critic, const Tensor& real, const Tensor& fake) {
  const Tensor alpha = rand({real.size(0), 1});
  Tensor x_hat = (alpha * real + (1.0 - alpha) * fake).detach();
  x_hat.requires_grad_();
  const Tensor gradient =
      autograd::grad({critic(x_hat).sum()}, {x_hat}, {}, std::nullopt, /*create_graph=*/true)[0];
  return (gradient.norm({1}) - 1.0).pow(2.0).mean();
}

struct Coverage {
  int modes_covered;
  double high_quality;  ///< fraction of samples within 3 std of a centre
};

Coverage coverage(const Tensor& samples, const Tensor& centres, double sigma) {
  const Tensor distance = (samples.unsqueeze(1) - centres.unsqueeze(0)).norm({2});
  const std::vector<double> nearest = distance.amin({1}).to_vector<double>();
  const std::vector<std::int64_t> mode = (-distance).argmax(1).to_vector<std::int64_t>();
  std::vector<int> hits(kModes, 0);
  int high_quality = 0;
  for (std::size_t i = 0; i < nearest.size(); ++i) {
    if (nearest[i] > 3 * sigma) continue;
    ++hits[mode[i]];
    ++high_quality;
  }
  const double n = static_cast<double>(nearest.size());
  const int covered = static_cast<int>(
      std::count_if(hits.begin(), hits.end(), [n](int h) { return h >= 0.01 * n; }));
  return {covered, high_quality / n};
}

struct Variant {
  bool spectral_norm;  ///< else a WGAN-GP critic
  int critic_steps;    ///< discriminator steps per generator step
  std::pair<double, double> adam_betas;
};

Variant variant_named(const std::string& name) {
  if (name == "sngan") return {true, 2, {0.5, 0.999}};
  return {false, 5, {0.5, 0.9}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string variant_name = "sngan", svg_path;
  int steps = 3000, batch = 256, hidden = 64, samples = 2500, seed = 0, log_every = 500;
  std::optional<int> critic_steps;
  double lr = 1e-3;
  double sigma = 0.05, penalty_weight = 0.1;
  CLI::App app("Train a GAN on a ring of 8 Gaussians and count the modes it covers.");
  app.add_option("--variant", variant_name,
                 "sngan (spectrally normalised discriminator, hinge loss) or wgan-gp")
      ->check(CLI::IsMember({"sngan", "wgan-gp"}))
      ->capture_default_str();
  app.add_option("--steps", steps, "generator steps")->capture_default_str();
  app.add_option("--batch", batch, "real and fake samples per step")->capture_default_str();
  app.add_option("--hidden", hidden, "units in each hidden layer of both networks")
      ->capture_default_str();
  app.add_option("--critic-steps", critic_steps,
                 "discriminator steps per generator step (default: 2 for sngan, 5 for wgan-gp)");
  app.add_option("--lr", lr, "Adam learning rate of both networks")->capture_default_str();
  app.add_option("--std", sigma, "standard deviation of each Gaussian")->capture_default_str();
  app.add_option("--penalty", penalty_weight, "wgan-gp: weight of the gradient penalty")
      ->capture_default_str();
  app.add_option("--samples", samples, "generated samples to measure coverage on")
      ->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--log-every", log_every, "steps between progress lines")->capture_default_str();
  app.add_option("--svg", svg_path, "plot of real and generated samples (default: VARIANT_2d.svg)");
  CLI11_PARSE(app, argc, argv);
  if (svg_path.empty())
    svg_path = std::string(variant_name == "sngan" ? "sngan" : "wgan_gp") + "_2d.svg";

  const Variant variant = variant_named(variant_name);
  const int discriminator_steps = critic_steps.value_or(variant.critic_steps);
  manual_seed(static_cast<std::uint64_t>(seed));
  const Tensor centres = ring_centres();
  const auto generator = mlp(kNoise, hidden, 2);
  const auto discriminator = mlp(2, hidden, 1);
  if (variant.spectral_norm) spectrally_normalize_linears(*discriminator);
  const optim::AdamOptions adam{.lr = lr, .betas = variant.adam_betas};
  optim::Adam g_adam(generator->parameters(), adam);
  optim::Adam d_adam(discriminator->parameters(), adam);

  const auto discriminator_loss = [&](const Tensor& real, const Tensor& fake) {
    if (variant.spectral_norm) {
      const Tensor score = (*discriminator)(cat({real, fake}));
      return hinge_loss(score.narrow(0, 0, batch), score.narrow(0, batch, batch));
    }
    return (*discriminator)(fake).mean() - (*discriminator)(real).mean() +
           penalty_weight * gradient_penalty(*discriminator, real, fake);
  };
  const auto generate = [&](std::int64_t n) { return (*generator)(randn({n, kNoise})); };
  const auto measure = [&] {
    NoGradGuard no_grad;
    return coverage(generate(samples), centres, sigma);
  };

  std::cout << std::fixed << std::setprecision(4);
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  for (int step = 1; step <= steps; ++step) {
    Tensor d_loss;
    for (int i = 0; i < discriminator_steps; ++i) {
      d_loss = discriminator_loss(sample_ring(centres, batch, sigma), generate(batch).detach());
      d_adam.zero_grad();
      d_loss.backward();
      d_adam.step();
    }
    // Both losses push the discriminator's score of generated samples up.
    const Tensor g_loss = -(*discriminator)(generate(batch)).mean();
    g_adam.zero_grad();
    g_loss.backward();
    g_adam.step();
    if (step % log_every == 0 || step == steps) {
      const Coverage c = measure();
      std::cout << "step " << std::setw(5) << step << "  D loss " << std::setw(8)
                << d_loss.item<double>() << "  G loss " << std::setw(8) << g_loss.item<double>()
                << "  modes " << c.modes_covered << "/" << kModes << "  high quality "
                << c.high_quality << '\n';
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;

  const Coverage final_coverage = measure();
  std::cout << variant_name << ": " << final_coverage.modes_covered << " of " << kModes
            << " modes covered, " << std::setprecision(1) << 100 * final_coverage.high_quality
            << "% of " << samples << " samples high quality\n"
            << "(high quality: within 3 std = " << std::setprecision(2) << 3 * sigma
            << " of a centre; covered: at least 1% of the samples high quality at that mode)\n"
            << steps << " generator steps in " << std::setprecision(1) << seconds << " s ("
            << cpu_seconds << " s of CPU time)\n";

  NoGradGuard no_grad;
  const Tensor real = sample_ring(centres, samples, sigma);
  const Tensor fake = generate(samples);
  examples::SvgPlot plot("Ring of 8 Gaussians: real (grey) and generated (" + variant_name + ")",
                         "x", "y");
  plot.points(real.select(1, 0).to_vector<double>(), real.select(1, 1).to_vector<double>(),
              "#999999", 2.0, 0.4);
  plot.points(fake.select(1, 0).to_vector<double>(), fake.select(1, 1).to_vector<double>(),
              "#d62728", 1.5, 0.5);
  plot.save(svg_path);
  std::cout << "wrote " << svg_path << '\n';
  return 0;
}
