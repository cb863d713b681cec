// Optimizer and scheduler state as text and tensors: options_dict() and the
// schedulers' state_dict(), which read back exactly (tether/train/checkpoint.h
// puts them in a training checkpoint).
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace tether;
using Catch::Matchers::Contains;

TEST_CASE("options_dict writes every option of every group and reads it back", "[optim]") {
  const TensorOptions trainable = TensorOptions(DType::f64).with_requires_grad();
  const Tensor a = ones({1}, trainable), b = ones({1}, trainable);
  optim::SGD sgd({{{a}, {.lr = 0.1, .momentum = 0.9, .nesterov = true}}, {{b}, {.lr = 1e-3}}});
  CHECK(sgd.options_dict() == Metadata{{"0.lr", "0.1"},
                                       {"0.momentum", "0.9"},
                                       {"0.dampening", "0"},
                                       {"0.weight_decay", "0"},
                                       {"0.nesterov", "true"},
                                       {"1.lr", "0.001"},
                                       {"1.momentum", "0"},
                                       {"1.dampening", "0"},
                                       {"1.weight_decay", "0"},
                                       {"1.nesterov", "false"}});
  Metadata changed = sgd.options_dict();
  changed["1.lr"] = "0.30000000000000004";  // 0.1 + 0.2, which only the shortest exact text keeps
  sgd.load_options_dict(changed);
  CHECK(sgd.lr(1) == 0.1 + 0.2);
  changed["0.momentum"] = "0";  // Nesterov without momentum
  CHECK_THROWS_WITH(sgd.load_options_dict(changed),
                    Contains("SGD: Nesterov momentum needs momentum > 0"));
  CHECK(sgd.options(0).momentum == 0.9);

  optim::RMSprop rmsprop({a}, {.centered = true});
  CHECK(rmsprop.options_dict().at("0.centered") == "true");
  optim::Adagrad adagrad({a}, {.lr_decay = 0.5});
  CHECK(adagrad.options_dict().at("0.lr_decay") == "0.5");
  adagrad.load_options_dict(adagrad.options_dict());
  CHECK(adagrad.options().lr_decay == 0.5);
}

TEST_CASE("every scheduler's state_dict continues its schedule exactly", "[optim]") {
  const TensorOptions trainable = TensorOptions(DType::f64).with_requires_grad();
  using Make = std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)>;
  const std::vector<std::pair<std::string, Make>> kinds = {
      {"StepLR",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::StepLR>(o,
                                                optim::StepLROptions{.step_size = 2, .gamma = 0.5});
       }},
      {"ExponentialLR",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::ExponentialLR>(o,
                                                       optim::ExponentialLROptions{.gamma = 0.9});
       }},
      {"CosineAnnealingLR",
       [](optim::Optimizer& o) {
         return std::make_unique<optim::CosineAnnealingLR>(
             o, optim::CosineAnnealingLROptions{.T_max = 7, .eta_min = 1e-3});
       }},
  };
  for (const auto& [name, make] : kinds) {
    INFO(name);
    optim::SGD first({ones({1}, trainable)}, {.lr = 0.1});
    const auto original = make(first);
    for (int t = 0; t < 3; ++t) original->step();
    CHECK(original->name() == name);

    optim::SGD second({ones({1}, trainable)}, {.lr = 0.7});  // another initial lr
    const auto resumed = make(second);
    resumed->load_state_dict(original->state_dict());
    CHECK(resumed->last_epoch() == 3);
    CHECK(resumed->last_lr() == original->last_lr());
    for (int t = 0; t < 4; ++t) {
      original->step();
      resumed->step();
      CHECK(second.lr(0) == first.lr(0));
    }
  }
}

TEST_CASE("ReduceLROnPlateau's state_dict keeps its best metric and counters", "[optim]") {
  const TensorOptions trainable = TensorOptions(DType::f64).with_requires_grad();
  optim::SGD first({ones({1}, trainable)}, {.lr = 0.1});
  optim::ReduceLROnPlateau original(first, {.patience = 2, .cooldown = 1});
  for (double metric : {5.0, 4.0, 4.5, 4.5}) original.step(metric);
  CHECK(original.state_dict() == Metadata{{"best", "4"},
                                          {"num_bad_epochs", "2"},
                                          {"cooldown_counter", "0"},
                                          {"last_lr.0", "0.1"}});

  optim::SGD second({ones({1}, trainable)}, {.lr = 0.1});
  optim::ReduceLROnPlateau resumed(second, {.patience = 2, .cooldown = 1});
  CHECK(resumed.state_dict().at("best") == "inf");  // no metric yet
  resumed.load_state_dict(resumed.state_dict());    // inf reads back
  resumed.load_state_dict(original.state_dict());
  for (double metric : {4.5, 4.5, 3.0}) {
    original.step(metric);
    resumed.step(metric);
    CHECK(second.lr(0) == first.lr(0));
  }
  CHECK(first.lr(0) == Approx(0.01));
  CHECK(resumed.best() == 3.0);

  Metadata bad = original.state_dict();
  bad["best"] = "nan";
  CHECK_THROWS_WITH(
      resumed.load_state_dict(bad),
      "ReduceLROnPlateau.load_state_dict: key \"best\" is \"nan\", expected a number");
  bad.erase("best");
  CHECK_THROWS_WITH(resumed.check_state_dict(bad), Contains("key \"best\" is missing"));
  CHECK(resumed.best() == 3.0);
}

namespace {

/// Every option of `options` as a number, in the order of fields() (a flag
/// as 0 or 1, a pair as its two numbers).
template <class Options>
std::vector<double> numbers(const Options& options) {
  std::vector<double> values;
  Options::fields(options, [&](const auto& member, const auto*...) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(member)>, std::pair<double, double>>)
      values.insert(values.end(), {member.first, member.second});
    else
      values.push_back(static_cast<double>(member));
  });
  return values;
}

/// Checks that each of `changed` reads back exactly through options_dict()
/// into an Optimizer built with the defaults, and that together they give
/// every option a value other than its default, so no option goes untested.
template <class Optimizer, class Options>
void check_every_option_reads_back(const std::vector<Options>& changed) {
  const TensorOptions trainable = TensorOptions(DType::f64).with_requires_grad();
  const std::vector<double> defaults = numbers(Options{});
  std::vector<bool> exercised(defaults.size());
  for (const Options& options : changed) {
    const std::vector<double> values = numbers(options);
    for (std::size_t i = 0; i < values.size(); ++i)
      exercised[i] = exercised[i] || values[i] != defaults[i];
    const Optimizer source({ones({1}, trainable)}, options);
    Optimizer target({ones({1}, trainable)}, Options{});
    target.load_options_dict(source.options_dict());
    CHECK(numbers(target.options()) == values);
  }
  CHECK(exercised == std::vector<bool>(defaults.size(), true));
}

/// Options whose fields() leave out one member, or name one twice.
struct MissesOne {
  double a = 0, b = 0;
  static constexpr void fields(auto& options, auto&& option) { option(options.a, "a"); }
};
struct RepeatsOne {
  double a = 0;
  bool b = false;
  static constexpr void fields(auto& options, auto&& option) {
    option(options.a, "a");
    option(options.a, "b");
  }
};

}  // namespace

TEST_CASE(
    "every option of every optimizer, set to a value other than its default, reads back through "
    "options_dict",
    "[optim]") {
  using namespace optim;
  check_every_option_reads_back<SGD, SGDOptions>(
      {{.lr = 0.5, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01},
       {.momentum = 0.5, .nesterov = true}});
  const AdamOptions adam{
      .lr = 0.5, .betas = {0.8, 0.9}, .eps = 1e-6, .weight_decay = 0.01, .amsgrad = true};
  check_every_option_reads_back<Adam, AdamOptions>({adam});
  check_every_option_reads_back<AdamW, AdamOptions>({adam});
  check_every_option_reads_back<RMSprop, RMSpropOptions>({{.lr = 0.5,
                                                           .alpha = 0.9,
                                                           .eps = 1e-6,
                                                           .weight_decay = 0.01,
                                                           .momentum = 0.9,
                                                           .centered = true}});
  check_every_option_reads_back<Adagrad, AdagradOptions>({{.lr = 0.5,
                                                           .lr_decay = 0.1,
                                                           .weight_decay = 0.01,
                                                           .initial_accumulator_value = 0.1,
                                                           .eps = 1e-6}});
}

TEST_CASE(
    "an options struct whose fields() leaves out or repeats a member fails the compile-time "
    "check that keeps options_dict complete",
    "[optim]") {
  using optim::detail::fields_name_every_member, optim::detail::member_count;
  STATIC_REQUIRE(member_count<optim::AdamOptions>() == 5);  // betas is one member
  STATIC_REQUIRE(fields_name_every_member<optim::AdamOptions>());
  STATIC_REQUIRE_FALSE(fields_name_every_member<MissesOne>());
  STATIC_REQUIRE_FALSE(fields_name_every_member<RepeatsOne>());
}
