// nn::Module with computed parameters: state_dict and load_state_dict,
// parameters() through constraints, train/eval reaching the strategies, tied
// weights; and optim::SGD's update rule.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <map>

#include "state_dict_check.h"

using namespace tether;
using testing::snapshot, testing::spectral_linear, testing::Values;

namespace {

std::vector<std::string> keys(const StateDict& state) {
  std::vector<std::string> names;
  for (const auto& [key, tensor] : state) names.push_back(key);
  return names;
}

std::vector<std::string> names(const NamedTensors& tensors) {
  std::vector<std::string> all;
  for (const auto& [name, tensor] : tensors) all.push_back(name);
  return all;
}

ComputedParameter& computed(const std::shared_ptr<Parameter>& slot) {
  return dynamic_cast<ComputedParameter&>(*slot);
}

/// A few SGD steps on random batches, so the weights and u, v move.
void train_steps(nn::Linear& linear, int steps) {
  optim::SGD sgd(linear.parameters(), {.lr = 0.1});
  for (int step = 0; step < steps; ++step) {
    const Tensor x = randn({5, 3}, DType::f64);
    const Tensor loss = nn::mse_loss(linear(x), ones({5, 4}, DType::f64));
    sgd.zero_grad();
    loss.backward();
    sgd.step();
  }
}

/// Two Linear(3, 3) layers in f64.
struct TwoLayers : nn::Module {
  TwoLayers() {
    first = register_module("first", std::make_shared<nn::Linear>(3, 3, true, DType::f64));
    second = register_module("second", std::make_shared<nn::Linear>(3, 3, true, DType::f64));
  }
  Tensor forward(const Tensor& x) { return second->forward(tanh(first->forward(x))); }

  std::shared_ptr<nn::Linear> first, second;
};

}  // namespace

TEST_CASE("state_dict of a spectrally normalised Linear holds weight.raw, .u, .v and bias",
          "[module]") {
  const auto linear = spectral_linear(61);
  const StateDict state = linear->state_dict();
  CHECK(keys(state) == std::vector<std::string>{"bias", "weight.raw", "weight.u", "weight.v"});
  CHECK(state.at("weight.raw").shape() == Shape{4, 3});
  CHECK(state.at("weight.u").shape() == Shape{4});
  CHECK(state.at("weight.v").shape() == Shape{3});
}

TEST_CASE("a state_dict round trip reproduces a spectrally normalised value bitwise", "[module]") {
  const auto source = spectral_linear(62);
  train_steps(*source, 3);
  const auto loaded = spectral_linear(63);
  loaded->load_state_dict(source->state_dict());
  source->eval();
  loaded->eval();
  NoGradGuard no_grad;
  CHECK(loaded->weight->value().to_vector<double>() == source->weight->value().to_vector<double>());
  const Tensor x = randn({2, 3}, DType::f64);
  CHECK((*loaded)(x).to_vector<double>() == (*source)(x).to_vector<double>());
}

TEST_CASE("load_state_dict rejects a bad entry by name and leaves the module unchanged",
          "[module]") {
  struct BadState {
    std::string what, key;
    std::function<void(StateDict&)> spoil;
  };
  const std::vector<BadState> bad_states = {
      {"a missing key", "weight.u", [](StateDict& s) { s.erase("weight.u"); }},
      {"a mis-shaped entry", "weight.raw",
       [](StateDict& s) {
         s["weight.raw"] = zeros({3, 4}, DType::f64);
       }},
      {"an unexpected key", "weight.w",
       [](StateDict& s) { s["weight.w"] = zeros({3}, DType::f64); }},
      {"an integer entry for a float tensor", "bias",
       [](StateDict& s) { s["bias"] = zeros({4}, DType::i64); }},
  };
  for (const auto& bad : bad_states) {
    INFO(bad.what);
    const auto linear = spectral_linear(64);
    const Values before = snapshot(linear->state_dict());
    StateDict state = spectral_linear(65)->state_dict();  // every value differs
    bad.spoil(state);
    CHECK_THROWS_WITH(linear->load_state_dict(state), Catch::Contains("\"" + bad.key + "\""));
    CHECK(snapshot(linear->state_dict()) == before);
  }
}

TEST_CASE(
    "in eval mode under no-grad a thousand forwards compute the weight once, and "
    "load_state_dict makes it recompute",
    "[module]") {
  const auto linear = spectral_linear(68);
  const auto source = spectral_linear(69);
  linear->eval();
  source->eval();
  auto& weight = computed(linear->weight);
  NoGradGuard no_grad;
  const Tensor x = randn({2, 3}, DType::f64);
  const std::uint64_t before = weight.recompute_count();
  for (int i = 0; i < 1000; ++i) (*linear)(x);
  CHECK(weight.recompute_count() == before + 1);

  linear->load_state_dict(source->state_dict());
  CHECK(linear->weight->value().to_vector<double>() == source->weight->value().to_vector<double>());
  CHECK(weight.recompute_count() == before + 2);
}

TEST_CASE("parameters() reaches the raw inputs through computed parameters", "[module]") {
  manual_seed(70);
  nn::Linear linear(3, 2, true, DType::f64);
  linear.weight = constrain(linear.weight, constraints::weight_norm());
  const NamedTensors parameters = linear.named_parameters();
  CHECK(names(parameters) == std::vector<std::string>{"weight.g", "weight.v", "bias"});
  const auto& raw = computed(linear.weight).raw_inputs();
  CHECK(parameters[0].second.is_same(raw[0]));
  CHECK(parameters[1].second.is_same(raw[1]));
  for (const auto& tensor : linear.parameters())
    CHECK((tensor.is_leaf() && tensor.requires_grad()));
  // Buffers are state, not parameters.
  CHECK(names(spectral_linear(71)->named_parameters()) ==
        std::vector<std::string>{"weight.raw", "bias"});
}

TEST_CASE("train() and eval() reach the constraints of child modules", "[module]") {
  manual_seed(72);
  TwoLayers net;
  for (auto* layer : {net.first.get(), net.second.get()})
    layer->weight = spectrally_normalize(layer->weight);
  auto& constraint = computed(net.second->weight).constraint();
  const Tensor u = constraint.buffers()[0].second, x = randn({2, 3}, DType::f64);

  net.eval();
  CHECK_FALSE(constraint.is_training());
  const std::uint64_t u_version = u.version();
  net.forward(x);
  CHECK(u.version() == u_version);

  net.train();
  CHECK(constraint.is_training());
  net.forward(x);
  CHECK(u.version() == u_version + 1);
}

TEST_CASE(
    "a tied weight is one parameter, computed once per step, with the gradients of "
    "recomputing at every use",
    "[module]") {
  const auto tied_net = [](bool recompute_every_use) {
    manual_seed(73);
    auto net = std::make_shared<TwoLayers>();
    auto weight = constrain(net->first->weight, constraints::weight_norm());
    weight->set_recompute_every_use(recompute_every_use);
    net->first->weight = net->second->weight = weight;
    return std::make_pair(net, weight);
  };
  const auto [cached, cached_weight] = tied_net(false);
  const auto [every_use, every_use_weight] = tied_net(true);
  CHECK(cached->parameters().size() == 4);  // g, v and two biases

  optim::SGD sgd(cached->parameters(), {.lr = 0.1});
  const Tensor x = randn({4, 3}, DType::f64);
  for (int step = 1; step <= 3; ++step) {
    for (auto* net : {cached.get(), every_use.get()}) {
      net->zero_grad();
      sum(net->forward(x)).backward();
    }
    CHECK(cached_weight->recompute_count() == static_cast<std::uint64_t>(step));
    CHECK(every_use_weight->recompute_count() == static_cast<std::uint64_t>(2 * step));
    const NamedTensors a = cached->named_parameters(), b = every_use->named_parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].first);
      const auto ga = a[i].second.grad().to_vector<double>(),
                 gb = b[i].second.grad().to_vector<double>();
      for (std::size_t j = 0; j < ga.size(); ++j) CHECK(ga[j] == Approx(gb[j]).epsilon(1e-12));
    }
    sgd.step();
    every_use->load_state_dict(cached->state_dict());
  }
}

TEST_CASE("SGD follows torch.optim.SGD's update rule for two steps", "[module]") {
  // p0 = 1, gradients 0.5 then -1, lr 0.1; d = g + wd p; buf = d, then
  // momentum buf + (1 - dampening) d; step d = buf (or d + momentum buf, Nesterov).
  struct Case {
    std::string name;
    optim::SGDOptions options;
    double after_first, after_second;
  };
  const std::vector<Case> cases = {
      // 1 - 0.05; 0.95 + 0.1
      {"plain", {.lr = 0.1}, 0.95, 1.05},
      // buf 0.5; buf 0.45 - 1 = -0.55: 0.95 + 0.055
      {"momentum 0.9", {.lr = 0.1, .momentum = 0.9}, 0.95, 1.005},
      // buf 0.5 (no dampening on the first step); buf 0.45 - 0.5 = -0.05: 0.95 + 0.005
      {"momentum 0.9, dampening 0.5", {.lr = 0.1, .momentum = 0.9, .dampening = 0.5}, 0.95, 0.955},
      // d 0.5 + 0.1 = 0.6: 0.94; d -1 + 0.094 = -0.906: 0.94 + 0.0906
      {"weight decay 0.1", {.lr = 0.1, .weight_decay = 0.1}, 0.94, 1.0306},
      // d 0.6, buf 0.6, step 0.6 + 0.54 = 1.14: 0.886; d -1 + 0.0886 = -0.9114,
      // buf 0.54 - 0.9114 = -0.3714, step -0.9114 - 0.33426 = -1.24566: 0.886 + 0.124566
      {"Nesterov, momentum 0.9, weight decay 0.1",
       {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true},
       0.886,
       1.010566},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const Tensor p = ones({1}, TensorOptions(DType::f64).with_requires_grad());
    const Tensor untouched = ones({1}, TensorOptions(DType::f64).with_requires_grad());
    optim::SGD sgd({p, untouched}, c.options);
    p.set_grad(full({1}, 0.5, DType::f64));
    sgd.step();
    CHECK(p.item<double>() == Approx(c.after_first).epsilon(1e-14));
    p.set_grad(full({1}, -1.0, DType::f64));
    sgd.step();
    CHECK(p.item<double>() == Approx(c.after_second).epsilon(1e-14));
    CHECK(untouched.item<double>() == 1.0);  // no gradient, no step
  }
}

TEST_CASE("SGD rejects Nesterov momentum without momentum", "[module]") {
  const Tensor p = ones({1}, TensorOptions(DType::f64).with_requires_grad());
  CHECK_THROWS_AS((optim::SGD({p}, {.lr = 0.1, .nesterov = true})), ValueError);
}
