// Options set after construction are checked exactly as the constructor checks
// them: set_lr, set_options and parameter groups, for every optimizer; the
// schedulers' and clipping's arguments likewise refuse nan and infinities.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

using namespace tether;

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

Tensor weight() {
  return ones({2}, TensorOptions(DType::f64).with_requires_grad());
}

/// The message of the tether::Error `action` throws ("" when it throws none).
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// Checks that Optimizer refuses `bad` in its constructor, and that
/// set_options (and set_lr, when only the lr is bad) refuses it with the same
/// message and keeps the options it had, so the next step stays finite.
template <class Optimizer, class Options>
void check_refused_everywhere(const Options& bad, bool only_lr_is_bad) {
  const Tensor p = weight();
  const std::string from_constructor = error_of([&] { Optimizer({p}, bad); });
  INFO(from_constructor);
  CHECK_FALSE(from_constructor.empty());

  Optimizer optimizer({p}, Options{});
  const Metadata before = optimizer.options_dict();
  CHECK_THROWS_AS(optimizer.set_options(0, bad), ValueError);
  CHECK(error_of([&] { optimizer.set_options(0, bad); }) == from_constructor);
  if (only_lr_is_bad) CHECK(error_of([&] { optimizer.set_lr(0, bad.lr); }) == from_constructor);
  CHECK(optimizer.options_dict() == before);

  p.set_grad(ones({2}, DType::f64));
  optimizer.step();
  for (const double value : p.to_vector<double>()) CHECK(std::isfinite(value));
}

template <class Optimizer, class Options>
void check_bad_lrs() {
  for (const double lr : {-1.0, not_a_number, infinity}) {
    Options bad;
    bad.lr = lr;
    check_refused_everywhere<Optimizer>(bad, true);
  }
}

}  // namespace

TEST_CASE(
    "set_lr refuses a negative, nan or infinite learning rate with the constructor's message and "
    "keeps the old one, for every optimizer",
    "[optim]") {
  check_bad_lrs<optim::SGD, optim::SGDOptions>();
  check_bad_lrs<optim::Adam, optim::AdamOptions>();
  check_bad_lrs<optim::AdamW, optim::AdamOptions>();
  check_bad_lrs<optim::RMSprop, optim::RMSpropOptions>();
  check_bad_lrs<optim::Adagrad, optim::AdagradOptions>();
  optim::SGD sgd({weight()}, {.lr = 0.1});
  CHECK_THROWS_WITH(sgd.set_lr(0, not_a_number),
                    "SGD: learning rate must be a finite number >= 0, got nan");
}

TEST_CASE("set_options refuses every option the constructor refuses, for every optimizer",
          "[optim]") {
  using optim::SGD, optim::Adam, optim::AdamW, optim::RMSprop, optim::Adagrad;
  check_refused_everywhere<SGD>(optim::SGDOptions{.momentum = not_a_number}, false);
  check_refused_everywhere<SGD>(optim::SGDOptions{.dampening = infinity}, false);
  check_refused_everywhere<SGD>(optim::SGDOptions{.weight_decay = -1}, false);
  check_refused_everywhere<SGD>(optim::SGDOptions{.nesterov = true}, false);
  check_refused_everywhere<Adam>(optim::AdamOptions{.betas = {not_a_number, 0.999}}, false);
  check_refused_everywhere<AdamW>(optim::AdamOptions{.betas = {0.9, 1.0}}, false);
  check_refused_everywhere<Adam>(optim::AdamOptions{.eps = not_a_number}, false);
  check_refused_everywhere<AdamW>(optim::AdamOptions{.weight_decay = infinity}, false);
  check_refused_everywhere<RMSprop>(optim::RMSpropOptions{.alpha = not_a_number}, false);
  check_refused_everywhere<RMSprop>(optim::RMSpropOptions{.momentum = -0.5}, false);
  check_refused_everywhere<Adagrad>(optim::AdagradOptions{.lr_decay = infinity}, false);
  check_refused_everywhere<Adagrad>(
      optim::AdagradOptions{.initial_accumulator_value = not_a_number}, false);
}

TEST_CASE("set_options of a valid group changes only that group", "[optim]") {
  optim::Adam adam({{{weight()}, {.lr = 0.1}}, {{weight()}, {.lr = 0.2}}});
  adam.set_options(1, {.lr = 0.3, .amsgrad = true});
  CHECK(adam.options(0).lr == 0.1);
  CHECK_FALSE(adam.options(0).amsgrad);
  CHECK(adam.options(1).lr == 0.3);
  CHECK(adam.options(1).amsgrad);
}

TEST_CASE("a parameter group that does not exist is an IndexError naming the optimizer",
          "[optim]") {
  optim::RMSprop rmsprop({weight()}, {});
  CHECK_THROWS_AS(rmsprop.set_lr(1, 0.1), IndexError);
  CHECK_THROWS_WITH(rmsprop.set_lr(1, 0.1), "RMSprop: parameter group 1 does not exist (1 group)");
  CHECK_THROWS_AS(rmsprop.lr(3), IndexError);
  CHECK_THROWS_AS(rmsprop.set_options(2, {}), IndexError);
}

TEST_CASE("schedulers refuse nan and infinite options, naming the scheduler", "[optim]") {
  optim::SGD sgd({weight()}, {.lr = 0.1});
  CHECK_THROWS_WITH((optim::StepLR(sgd, {.step_size = 1, .gamma = not_a_number})),
                    "StepLR: gamma must be a finite number > 0, got nan");
  CHECK_THROWS_WITH((optim::ExponentialLR(sgd, {.gamma = infinity})),
                    "ExponentialLR: gamma must be a finite number > 0, got inf");
  CHECK_THROWS_WITH((optim::ExponentialLR(sgd, {})),
                    "ExponentialLR: gamma must be a finite number > 0, got 0");
  CHECK_THROWS_WITH((optim::CosineAnnealingLR(sgd, {.T_max = 3, .eta_min = not_a_number})),
                    "CosineAnnealingLR: eta_min must be a finite number >= 0, got nan");
  CHECK_THROWS_AS((optim::ReduceLROnPlateau(sgd, {.factor = not_a_number})), ValueError);
  CHECK_THROWS_AS((optim::ReduceLROnPlateau(sgd, {.threshold = not_a_number})), ValueError);
  CHECK_THROWS_AS((optim::ReduceLROnPlateau(sgd, {.min_lr = infinity})), ValueError);
  CHECK_THROWS_AS((optim::ReduceLROnPlateau(sgd, {.eps = not_a_number})), ValueError);
  CHECK(sgd.lr(0) == 0.1);
}

TEST_CASE("a scheduler keeps the options it was given", "[optim]") {
  optim::SGD sgd({weight()}, {.lr = 0.1});
  const optim::StepLR step(sgd, {.step_size = 4});
  CHECK(step.options().step_size == 4);
  CHECK(step.options().gamma == 0.1);
  const optim::ReduceLROnPlateau plateau(sgd, {.patience = 3});
  CHECK(plateau.options().patience == 3);
}

TEST_CASE("gradient clipping refuses nan bounds and leaves the gradients alone", "[optim]") {
  const Tensor p = weight();
  p.set_grad(full({2}, 3.0, DType::f64));
  CHECK_THROWS_WITH(optim::clip_grad_norm({p}, not_a_number),
                    "clip_grad_norm: max_norm must be >= 0, got nan");
  CHECK_THROWS_AS(optim::clip_grad_norm({p}, 1.0, not_a_number), ValueError);
  CHECK_THROWS_WITH(optim::clip_grad_value({p}, not_a_number),
                    "clip_grad_value: clip_value must be >= 0, got nan");
  CHECK(p.grad().to_vector<double>() == std::vector<double>{3.0, 3.0});
}
