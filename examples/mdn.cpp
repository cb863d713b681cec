// A mixture density network (Bishop, 1994; PRML section 5.6) on Bishop's
// inverse problem: y ~ U(0, 1), x = y + 0.3 sin(2 pi y) + U(-0.1, 0.1), and
// the network predicts y from x. For x in the middle of its range three values
// of y fit, so a least-squares fit averages them; a mixture of K Gaussians
// over y, whose weights, means and standard deviations an MLP computes from
// x, represents all three branches.
//
// The network's weight and scale heads go through the same strategies that
// constrain parameters: constraints::simplex() maps the weight logits to
// mixture weights and constraints::positive() maps the scale outputs to
// standard deviations. A Constraint's forward() is a function of tensors, so
// it maps a layer's outputs as well as a parameter's raw tensor.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <numbers>

#include "svg.h"

namespace {

using namespace tether;

struct Data {
  Tensor x, y;  ///< [n, 1] each
};

/// n points of Bishop's inverse problem, from the global generator.
Data bishop_data(std::int64_t n) {
  const Tensor y = rand({n, 1});
  const Tensor noise = 0.2 * rand({n, 1}) - 0.1;
  return {y + 0.3 * sin(2 * std::numbers::pi * y) + noise, y};
}

/// The expected NLL of the true conditional density, H(Y | X) = H(X, Y) - H(X):
/// (x, y) is uniform with density 5 on the band around the curve, so H(X, Y) =
/// -log 5, and H(X) = -0.327 by quadrature of the marginal density of x. The
/// true p(y | x) is flat on each branch, which Gaussians only approximate.
constexpr double kTrueConditionalNll = -1.282;

/// A Gaussian mixture over y for each input: weights, means and standard
/// deviations [..., K].
struct Mixture {
  Tensor weights, means, stds;

  /// The mixture with a new dim at `dim` in each tensor, to broadcast against a grid of y.
  Mixture unsqueeze(std::int64_t dim) const {
    return {weights.unsqueeze(dim), means.unsqueeze(dim), stds.unsqueeze(dim)};
  }
};

/// log p(y) = logsumexp_k(log w_k + log N(y; mu_k, s_k)) for y broadcasting
/// against the mixture's [..., K]; the result drops the K dim. logsumexp keeps
/// it finite where every component's density underflows.
Tensor log_density(const Mixture& mixture, const Tensor& y) {
  const Tensor z = (y - mixture.means) / mixture.stds;
  return logsumexp(log(mixture.weights) - log(mixture.stds) - 0.5 * z * z, {-1}) -
         0.5 * std::log(2 * std::numbers::pi);
}

/// The mean negative log-likelihood of y [n, 1] under the mixtures [n, K].
Tensor mixture_nll(const Mixture& mixture, const Tensor& y) {
  return -log_density(mixture, y).mean();
}

/// x [n, 1] -> tanh MLP -> three heads of K outputs: weight logits through
/// simplex, means as they are, scales through positive.
class MixtureDensityNetwork : public nn::Module {
 public:
  MixtureDensityNetwork(std::int64_t hidden, std::int64_t components) {
    body_ = register_module(
        "body", std::make_shared<nn::Sequential>(nn::Sequential::Layers{
                    std::make_shared<nn::Linear>(1, hidden), std::make_shared<nn::Tanh>(),
                    std::make_shared<nn::Linear>(hidden, hidden), std::make_shared<nn::Tanh>()}));
    logits_ = register_module("logits", std::make_shared<nn::Linear>(hidden, components));
    means_ = register_module("means", std::make_shared<nn::Linear>(hidden, components));
    scales_ = register_module("scales", std::make_shared<nn::Linear>(hidden, components));
  }

  Mixture forward(const Tensor& x) {
    const Tensor h = (*body_)(x);
    return {simplex_->forward({(*logits_)(h)}), (*means_)(h), positive_->forward({(*scales_)(h)})};
  }

 private:
  std::shared_ptr<nn::Sequential> body_;
  std::shared_ptr<nn::Linear> logits_, means_, scales_;
  std::shared_ptr<Constraint> simplex_ = constraints::simplex();
  // The floor keeps a component from collapsing onto one point, where its
  // likelihood, and the loss, would be unbounded.
  std::shared_ptr<Constraint> positive_ =
      constraints::positive(constraints::PositiveMap::softplus, 1e-3);
};

/// Local maxima of p(y | x) on a y grid, for each x of a grid: the branches
/// the network sees. A maximum below 10% of the largest one at that x is a
/// negligible component's bump and is left out.
struct ConditionalModes {
  std::vector<double> xs, ys;  ///< one entry per mode
  std::vector<int> count_at;   ///< modes per x of the grid
  std::vector<double> x_grid;
};

ConditionalModes conditional_modes(MixtureDensityNetwork& net, double x_lo, double x_hi) {
  constexpr std::int64_t kXs = 200, kYs = 400;
  const Tensor x = linspace(x_lo, x_hi, kXs).reshape({kXs, 1});
  const Tensor y = linspace(-0.2, 1.2, kYs);
  const Tensor log_p = log_density(net.forward(x).unsqueeze(1), y.reshape({1, kYs, 1}));
  const std::vector<double> p = exp(log_p).to_vector<double>();
  const std::vector<double> y_values = y.to_vector<double>();

  ConditionalModes modes;
  modes.x_grid = x.flatten().to_vector<double>();
  for (std::int64_t i = 0; i < kXs; ++i) {
    const double* row = p.data() + i * kYs;
    const double peak = *std::max_element(row, row + kYs);
    int count = 0;
    for (std::int64_t j = 1; j + 1 < kYs; ++j) {
      if (row[j] > row[j - 1] && row[j] >= row[j + 1] && row[j] >= 0.1 * peak) {
        modes.xs.push_back(modes.x_grid[i]);
        modes.ys.push_back(y_values[j]);
        ++count;
      }
    }
    modes.count_at.push_back(count);
  }
  return modes;
}

/// The smallest and largest x of the grid at which the conditional density has three modes.
std::pair<double, double> three_branch_range(const ConditionalModes& modes) {
  double lo = NAN, hi = NAN;
  for (std::size_t i = 0; i < modes.x_grid.size(); ++i) {
    if (modes.count_at[i] != 3) continue;
    if (std::isnan(lo)) lo = modes.x_grid[i];
    hi = modes.x_grid[i];
  }
  return {lo, hi};
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 3000, points = 1000, hidden = 20, components = 3, seed = 0, log_every = 250;
  double lr = 5e-3;
  std::string svg_path = "mdn.svg";
  CLI::App app("Fit a mixture density network to Bishop's inverse problem (predict y from x).");
  app.add_option("--steps", steps, "Adam steps, each on the whole training set")
      ->capture_default_str();
  app.add_option("--points", points, "training points (and as many test points)")
      ->capture_default_str();
  app.add_option("--hidden", hidden, "units in each of the two tanh layers")->capture_default_str();
  app.add_option("--components", components, "Gaussians in the mixture")->capture_default_str();
  app.add_option("--lr", lr, "Adam learning rate")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--log-every", log_every, "steps between progress lines")->capture_default_str();
  app.add_option("--svg", svg_path, "plot of the data and the conditional modes")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  manual_seed(static_cast<std::uint64_t>(seed));
  const Data train = bishop_data(points);
  const Data test = bishop_data(points);
  MixtureDensityNetwork net(hidden, components);
  optim::Adam adam(net.parameters(), {.lr = lr});

  std::cout << std::fixed << std::setprecision(4);
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  for (int step = 1; step <= steps; ++step) {
    const Tensor loss = mixture_nll(net.forward(train.x), train.y);
    adam.zero_grad();
    loss.backward();
    adam.step();
    if (step == 1 || step % log_every == 0 || step == steps)
      std::cout << "step " << std::setw(5) << step << "  train NLL " << loss.item<double>() << '\n';
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;

  NoGradGuard no_grad;
  net.eval();
  std::cout << "test NLL " << mixture_nll(net.forward(test.x), test.y).item<double>() << " over "
            << points << " fresh points (the true conditional density scores "
            << kTrueConditionalNll << ")\n";
  const std::vector<double> xs = train.x.flatten().to_vector<double>();
  const ConditionalModes modes = conditional_modes(net, *std::min_element(xs.begin(), xs.end()),
                                                   *std::max_element(xs.begin(), xs.end()));
  const auto [lo, hi] = three_branch_range(modes);
  if (std::isnan(lo))
    std::cout << "p(y | x) never has three modes\n";
  else
    std::cout << "p(y | x) has three modes for x in [" << lo << ", " << hi << "]\n";
  std::cout << steps << " steps in " << std::setprecision(1) << seconds << " s (" << cpu_seconds
            << " s of CPU time)\n";

  examples::SvgPlot plot("Mixture density network: modes of p(y | x)", "x", "y");
  plot.points(xs, train.y.flatten().to_vector<double>(), "#999999", 2.0, 0.5);
  plot.points(modes.xs, modes.ys, "#d62728", 1.5, 0.9);
  plot.save(svg_path);
  std::cout << "wrote " << svg_path << '\n';
  return 0;
}
