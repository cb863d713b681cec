// The retraction family: stiefel() parameters moved by RiemannianSGD and
// RiemannianAdam stay on the manifold, optimise, compare with the orthogonal()
// reparametrisation on an LSTM, save and load, and refuse misuse by name.
#include <tether/backend/host_linalg.h>
#include <tether/manifold.h>
#include <tether/optim/riemannian.h>
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;
using Catch::Matchers::Contains;
using optim::Optimizer;

namespace {

/// A Stiefel parameter from a random f32 matrix of `shape`.
std::shared_ptr<ManifoldParameter> random_stiefel(const Shape& shape, std::uint64_t seed) {
  manual_seed(seed);
  return stiefel(make_parameter(randn(shape)));
}

/// The largest violation of W^T W = I seen over `steps` steps of `optimizer`
/// on the random objective sum(W * R_t), a new R_t each step.
double worst_violation(Optimizer& optimizer, ManifoldParameter& w, int steps) {
  double worst = 0;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    (w.value() * randn(w.value().shape())).sum().backward();
    optimizer.step();
    worst = std::max(worst, w.manifold().violation(w.value()));
  }
  return worst;
}

/// Runs `f`, which must throw an E whose message contains `text`.
template <class E>
void check_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    FAIL("no exception, expected one saying: " << text);
  } catch (const E& error) {
    CHECK_THAT(std::string(error.what()), Contains(text));
  }
}

}  // namespace

TEST_CASE(
    "RiemannianSGD with momentum keeps a Stiefel weight orthonormal to 1e-6 in f32 over "
    "1,000 steps",
    "[optim][riemannian]") {
  for (const Shape& shape : {Shape{24, 6}, Shape{12, 12}, Shape{5, 20}}) {
    auto w = random_stiefel(shape, 1);
    optim::RiemannianSGD sgd({w->value()}, {.lr = 0.05, .momentum = 0.9});
    CHECK(worst_violation(sgd, *w, 1000) < 1e-6);
  }
}

TEST_CASE("RiemannianAdam keeps a Stiefel weight orthonormal to 1e-6 in f32 over 1,000 steps",
          "[optim][riemannian]") {
  for (const Shape& shape : {Shape{24, 6}, Shape{12, 12}, Shape{5, 20}}) {
    auto w = random_stiefel(shape, 2);
    optim::RiemannianAdam adam({w->value()}, {.lr = 0.05, .amsgrad = shape[0] == 12});
    CHECK(worst_violation(adam, *w, 1000) < 1e-6);
  }
}

TEST_CASE(
    "Riemannian SGD and Adam solve a least-squares problem whose solution has "
    "orthonormal columns",
    "[optim][riemannian]") {
  manual_seed(3);
  const Tensor solution = backend::host::polar_factor(randn({10, 4}, DType::f64));
  const Tensor x = randn({40, 10}, DType::f64), y = matmul(x, solution);
  const auto loss_of = [&](const Tensor& w) { return (matmul(x, w) - y).pow(2.0).mean(); };
  const std::vector<std::function<std::unique_ptr<Optimizer>(Tensor)>> optimizers = {
      [](Tensor w) {
        return std::make_unique<optim::RiemannianSGD>(
            std::vector<Tensor>{w}, optim::RiemannianSGDOptions{.lr = 0.1, .momentum = 0.5});
      },
      [](Tensor w) {
        return std::make_unique<optim::RiemannianAdam>(std::vector<Tensor>{w},
                                                       optim::AdamOptions{.lr = 0.05});
      }};
  for (const auto& make : optimizers) {
    manual_seed(4);
    auto w = stiefel(make_parameter(randn({10, 4}, DType::f64)));
    auto optimizer = make(w->value());
    const double initial = loss_of(w->value()).item<double>();
    for (int step = 0; step < 300; ++step) {
      optimizer->zero_grad();
      loss_of(w->value()).backward();
      optimizer->step();
    }
    INFO(optimizer->name() << ": loss " << initial << " -> " << loss_of(w->value()).item<double>());
    CHECK(loss_of(w->value()).item<double>() < 1e-6 * initial);
    CHECK(max_abs_diff(w->value(), solution) < 1e-3);
  }
}

TEST_CASE(
    "an LSTM trains with a Stiefel recurrent weight under RiemannianAdam as with "
    "orthogonal() under Adam",
    "[optim][riemannian][nn]") {
  // Regress a target from the last hidden state, same seed and data for both.
  const auto train = [](bool manifold) {
    manual_seed(71);
    nn::LSTM lstm({.input_size = 3, .hidden_size = 4});
    nn::RecurrentWeights& layer = lstm.weights(0);
    const Tensor x = randn({5, 8, 3}), target = randn({8, 4}) * 0.5;
    std::unique_ptr<Optimizer> optimizer;
    if (manifold) {
      layer.weight_hh = stiefel(layer.weight_hh);
      optimizer = std::make_unique<optim::RiemannianAdam>(lstm.parameters(),
                                                          optim::AdamOptions{.lr = 0.02});
    } else {
      layer.weight_hh = constrain(layer.weight_hh, constraints::orthogonal());
      optimizer = std::make_unique<optim::Adam>(lstm.parameters(), optim::AdamOptions{.lr = 0.02});
    }
    std::vector<double> losses;
    for (int step = 0; step < 40; ++step) {
      optimizer->zero_grad();
      const Tensor loss = nn::mse_loss(lstm.forward(x).state.h.select(0, 0), target);
      loss.backward();
      optimizer->step();
      losses.push_back(loss.item<double>());
    }
    const Tensor w = layer.weight_hh->value();
    CHECK(max_abs_diff(matmul(w.t(), w), eye(4)) < 1e-5);
    return losses;
  };
  const std::vector<double> stiefel_losses = train(true), orthogonal_losses = train(false);
  for (std::size_t step : {0, 10, 20, 39})
    std::printf("# LSTM loss at step %zu: stiefel + RiemannianAdam %.4f, orthogonal + Adam %.4f\n",
                step, stiefel_losses[step], orthogonal_losses[step]);
  CHECK(stiefel_losses.back() < 0.5 * stiefel_losses.front());
  CHECK(orthogonal_losses.back() < 0.5 * orthogonal_losses.front());
}

TEST_CASE(
    "a Stiefel weight and the Riemannian optimizers' state save and load, and the loaded "
    "copy steps as the original",
    "[optim][riemannian][state_dict]") {
  const auto make_model = [] {
    manual_seed(5);
    auto linear = std::make_shared<nn::Linear>(6, 3);
    linear->weight = stiefel(linear->weight);
    return linear;
  };
  const auto batch = [] { return randn({7, 6}); };
  const auto step = [&](nn::Linear& model, Optimizer& optimizer, const Tensor& x) {
    optimizer.zero_grad();
    model.forward(x).pow(2.0).sum().backward();
    optimizer.step();
  };
  auto original = make_model();
  optim::RiemannianAdam adam(original->parameters(), {.lr = 0.1});
  optim::RiemannianSGD sgd(original->parameters(), {.lr = 0.1, .momentum = 0.9});
  for (Optimizer* optimizer : std::vector<Optimizer*>{&adam, &sgd}) {
    manual_seed(6);
    for (int i = 0; i < 3; ++i) step(*original, *optimizer, batch());
  }
  CHECK(adam.state_dict().count("0.exp_avg") == 1);
  CHECK(sgd.state_dict().count("0.momentum_buffer") == 1);
  CHECK(original->state_dict().count("weight") == 1);  // the point itself, no raw input

  auto copy = make_model();
  copy->load_state_dict(original->state_dict());
  optim::RiemannianAdam adam_copy(copy->parameters(), {.lr = 0.1});
  optim::RiemannianSGD sgd_copy(copy->parameters(), {.lr = 0.1, .momentum = 0.9});
  adam_copy.load_state_dict(adam.state_dict());
  sgd_copy.load_state_dict(sgd.state_dict());
  adam_copy.load_options_dict(adam.options_dict());
  const Tensor x = batch();
  step(*original, adam, x);
  step(*copy, adam_copy, x);
  step(*original, sgd, x);
  step(*copy, sgd_copy, x);
  CHECK(max_abs_diff(original->weight->value(), copy->weight->value()) == 0);
}

TEST_CASE("stiefel() of a wide matrix makes its rows orthonormal, and the optimizers keep them so",
          "[optim][riemannian]") {
  auto w = random_stiefel({3, 8}, 7);
  CHECK(max_abs_diff(matmul(w->value(), w->value().t()), eye(3)) < 1e-6);
  optim::RiemannianSGD sgd({w->value()}, {.lr = 0.1});
  CHECK(worst_violation(sgd, *w, 20) < 1e-6);
  CHECK(max_abs_diff(matmul(w->value(), w->value().t()), eye(3)) < 1e-6);
}

TEST_CASE(
    "stiefel() of a tensor that is not a matrix, or an empty one, throws a ShapeError naming "
    "stiefel",
    "[optim][riemannian][errors]") {
  check_error<ShapeError>(
      [] {
        stiefel(make_parameter(randn({2, 3, 4})));
      },
      "stiefel: expected a matrix [n, p] with n, p >= 1, got [2, 3, 4]");
  check_error<ShapeError>(
      [] {
        stiefel(make_parameter(zeros({0, 3})));
      },
      "stiefel: expected a matrix [n, p] with n, p >= 1, got [0, 3]");
  auto w = random_stiefel({4, 2}, 8);
  check_error<ValueError>([&] { stiefel(w); }, "stiefel: the parameter is already");
}

TEST_CASE("a plain optimizer refuses a Stiefel weight, naming itself and the Riemannian ones",
          "[optim][riemannian][errors]") {
  auto w = random_stiefel({4, 2}, 9);
  const Tensor euclidean = randn({3}).requires_grad_();
  check_error<ValueError>(
      [&] {
        optim::SGD({euclidean, w->value()}, {.lr = 0.1});
      },
      "SGD: parameter 1 is the point of a stiefel parameter, which a Euclidean step would take "
      "off its manifold; use optim::RiemannianSGD or optim::RiemannianAdam");
  check_error<ValueError>([&] { optim::Adam({w->value()}, {}); }, "Adam: parameter 0");
  // The Riemannian optimizers step Euclidean parameters as SGD does.
  optim::RiemannianSGD mixed({euclidean, w->value()}, {.lr = 0.5});
  euclidean.sum().backward();
  const Tensor before = euclidean.detach().clone();
  mixed.step();
  CHECK(max_abs_diff(euclidean, before - 0.5) == 0);
}

TEST_CASE(
    "a Stiefel weight written off its manifold throws a ValueError naming stiefel at the "
    "next value()",
    "[optim][riemannian][errors]") {
  auto w = random_stiefel({4, 2}, 10);
  {
    NoGradGuard no_grad;
    w->value().mul_(1.1);
  }
  check_error<ValueError>([&] { w->value(); },
                          "stiefel: the point [4, 2] left the manifold (violation");
}

TEST_CASE(
    "value() after a Riemannian optimizer's step does not check W^T W again, while a point "
    "written by the user is checked",
    "[optim][riemannian]") {
  auto w = random_stiefel({6, 3}, 11);
  w->value();
  const std::uint64_t checked = w->checks();  // the first value() checks the start
  optim::RiemannianAdam adam({w->value()}, {.lr = 0.01});
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    (w->value() * randn({6, 3})).sum().backward();
    adam.step();
    w->value();
  }
  CHECK(w->checks() == checked);
  {
    NoGradGuard no_grad;
    w->trainables().at(0).second.copy_(w->value().detach().clone());  // the same point, by the user
  }
  w->value();
  CHECK(w->checks() == checked + 1);
  {
    NoGradGuard no_grad;
    w->trainables().at(0).second.mul_(2.0);
  }
  check_error<ValueError>([&] { w->value(); }, "stiefel: the point [6, 3] left the manifold");
}

TEST_CASE("a point written off the manifold and then retracted by a step is still checked",
          "[optim][riemannian]") {
  auto w = random_stiefel({6, 3}, 12);
  optim::RiemannianSGD sgd({w->value()}, {.lr = 0.01});
  (w->value() * randn({6, 3})).sum().backward();
  {
    NoGradGuard no_grad;
    w->trainables().at(0).second.mul_(1.1);  // after value() checked it, before the step
  }
  sgd.step();  // a retraction does not bring an off-manifold point back
  check_error<ValueError>([&] { w->value(); }, "stiefel: the point [6, 3] left the manifold");
}
