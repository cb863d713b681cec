// Learning-rate schedulers: each one's sequence of learning rates against its
// closed form, written out by hand; ReduceLROnPlateau's patience and cooldown.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using namespace tether;

namespace {

/// An SGD with two groups, lr 0.1 and 0.01.
optim::SGD two_groups() {
  const TensorOptions trainable = TensorOptions(DType::f64).with_requires_grad();
  return optim::SGD(
      {{{ones({1}, trainable)}, {.lr = 0.1}}, {{ones({1}, trainable)}, {.lr = 0.01}}});
}

/// The first group's lr before any step and after each of `expected.size() - 1`
/// steps; the second group follows at a tenth of it, and the optimizer holds
/// what last_lr() reports.
void check_schedule(optim::LRScheduler& scheduler, const optim::Optimizer& optimizer,
                    const std::vector<double>& expected) {
  for (std::size_t t = 0; t < expected.size(); ++t) {
    INFO("epoch " << t);
    if (t > 0) scheduler.step();
    CHECK(scheduler.last_epoch() == static_cast<std::int64_t>(t));
    REQUIRE(scheduler.last_lr().size() == 2);
    CHECK(scheduler.last_lr()[0] == Approx(expected[t]).epsilon(1e-12));
    CHECK(scheduler.last_lr()[1] == Approx(expected[t] / 10).epsilon(1e-12));
    CHECK(optimizer.lr(0) == scheduler.last_lr()[0]);
    CHECK(optimizer.lr(1) == scheduler.last_lr()[1]);
  }
}

}  // namespace

TEST_CASE("StepLR multiplies by gamma every step_size epochs", "[optim]") {
  optim::SGD sgd = two_groups();
  optim::StepLR scheduler(sgd, {.step_size = 3, .gamma = 0.5});
  // 0.1 * 0.5^floor(t / 3) for t = 0..7.
  check_schedule(scheduler, sgd, {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025});
}

TEST_CASE("ExponentialLR multiplies by gamma every epoch", "[optim]") {
  optim::SGD sgd = two_groups();
  optim::ExponentialLR scheduler(sgd, {.gamma = 0.9});
  check_schedule(scheduler, sgd, {0.1, 0.09, 0.081, 0.0729, 0.06561});  // 0.1 * 0.9^t
}

TEST_CASE("CosineAnnealingLR follows half a cosine down to eta_min", "[optim]") {
  optim::SGD sgd = two_groups();
  optim::CosineAnnealingLR scheduler(sgd, {.T_max = 4, .eta_min = 0.001});
  // eta_min + (lr0 - eta_min)(1 + cos(pi t / 4)) / 2 with lr0 0.1, eta_min 0.001:
  // cos(pi t / 4) = 1, 0.707107, 0, -0.707107, -1, -0.707107 for t = 0..5, so the
  // factor (1 + cos) / 2 is 1, 0.853553, 0.5, 0.146447, 0, 0.146447.
  const double down = (1 + std::sqrt(0.5)) / 2, up = (1 - std::sqrt(0.5)) / 2;
  const std::vector<double> first_group = {0.1,   0.001 + 0.099 * down, 0.0505, 0.001 + 0.099 * up,
                                           0.001, 0.001 + 0.099 * up};
  for (std::size_t t = 0; t < first_group.size(); ++t) {
    INFO("epoch " << t);
    if (t > 0) scheduler.step();
    CHECK(scheduler.last_lr()[0] == Approx(first_group[t]).epsilon(1e-12));
    CHECK(sgd.lr(0) == scheduler.last_lr()[0]);
  }
  // The second group anneals from 0.01 to the same eta_min.
  CHECK(scheduler.last_lr()[1] == Approx(0.001 + 0.009 * up).epsilon(1e-12));
}

TEST_CASE("ReduceLROnPlateau waits out patience and cooldown before reducing", "[optim]") {
  optim::SGD sgd = two_groups();
  optim::ReduceLROnPlateau scheduler(
      sgd, {.factor = 0.5, .patience = 2, .threshold = 0.1, .cooldown = 1, .min_lr = 0.03});
  // An improvement must fall below best * 0.9. Per epoch: the metric, then the
  // first group's lr after step.
  struct Epoch {
    double metric, lr;
  };
  const std::vector<Epoch> epochs = {
      {10.0, 0.1},  // best 10
      {9.5, 0.1},   // 9.5 >= 9: bad epoch 1
      {9.2, 0.1},   // bad 2
      {9.1, 0.05},  // bad 3 > patience 2: halve, start a cooldown of 1 epoch
      {9.5, 0.05},  // bad, but the cooldown epoch: counter back to 0
      {9.5, 0.05},  // bad 1
      {8.0, 0.05},  // 8 < 9: best 8, counter 0
      {8.0, 0.05},  // bad 1
      {8.0, 0.05},  // bad 2
      {8.0, 0.03},  // bad 3: 0.025 is below min_lr, so 0.03
      {8.0, 0.03},  // cooldown
      {8.0, 0.03}, {8.0, 0.03}, {8.0, 0.03},  // bad 3 again: already at min_lr, nothing changes
  };
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    INFO("epoch " << e);
    scheduler.step(epochs[e].metric);
    CHECK(scheduler.last_lr()[0] == Approx(epochs[e].lr).epsilon(1e-12));
    CHECK(scheduler.last_lr()[1] == 0.01);  // already below min_lr: never reduced, never raised
    CHECK(sgd.lr(0) == scheduler.last_lr()[0]);
  }
  CHECK(scheduler.best() == 8.0);
}

TEST_CASE("ReduceLROnPlateau in max mode waits for the metric to rise", "[optim]") {
  optim::SGD sgd = two_groups();
  optim::ReduceLROnPlateau scheduler(
      sgd, {.mode = optim::ReduceLROnPlateauOptions::Mode::max, .patience = 0, .threshold = 0});
  scheduler.step(0.5);  // best 0.5
  scheduler.step(0.6);  // better
  CHECK(scheduler.last_lr()[0] == 0.1);
  scheduler.step(0.6);  // not above 0.6: bad 1 > patience 0, lr * 0.1
  CHECK(scheduler.last_lr()[0] == Approx(0.01));
  CHECK(scheduler.last_lr()[1] == Approx(0.001));
}

TEST_CASE("schedulers reject invalid options, naming the scheduler", "[optim]") {
  optim::SGD sgd = two_groups();
  CHECK_THROWS_WITH((optim::StepLR(sgd, {})), "StepLR: step_size must be >= 1, got 0");
  CHECK_THROWS_WITH((optim::ExponentialLR(sgd, {.gamma = -0.5})),
                    "ExponentialLR: gamma must be a finite number > 0, got -0.5");
  CHECK_THROWS_WITH((optim::CosineAnnealingLR(sgd, {})),
                    "CosineAnnealingLR: T_max must be >= 1, got 0");
  CHECK_THROWS_WITH((optim::ReduceLROnPlateau(sgd, {.factor = 1.0})),
                    "ReduceLROnPlateau: factor must lie in (0, 1), got 1");
  CHECK_THROWS_AS((optim::ReduceLROnPlateau(sgd, {.patience = -1})), ValueError);
  CHECK_THROWS_AS((optim::ReduceLROnPlateau(sgd, {.cooldown = -1})), ValueError);
}
