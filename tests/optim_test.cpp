// Optimizers against their published update rules, worked out by hand for one
// weight over three steps; parameter groups; saving and restoring state.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace tether;

namespace {

/// The weight after each of three steps from p = 1 with gradients 0.5, -1, 0.25.
std::vector<double> three_steps(optim::Optimizer& optimizer, const Tensor& p) {
  std::vector<double> after;
  for (const double g : {0.5, -1.0, 0.25}) {
    p.set_grad(full({1}, g, DType::f64));
    optimizer.step();
    after.push_back(p.item<double>());
  }
  return after;
}

Tensor weight() {
  return ones({1}, TensorOptions(DType::f64).with_requires_grad());
}

/// Builds an optimizer of one kind and options over the given parameters.
using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

template <class Optimizer, class Options>
Factory make(Options options) {
  return [options](std::vector<Tensor> parameters) {
    return std::make_unique<Optimizer>(std::move(parameters), options);
  };
}

struct Case {
  std::string name;
  Factory make;
  std::vector<double> expected;  ///< the weight after each step
};

/// Each case's optimizer over p and a weight that never gets a gradient, which
/// must stay 1.
void check_three_steps(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    INFO(c.name);
    const Tensor p = weight(), untouched = weight();
    const std::unique_ptr<optim::Optimizer> optimizer = c.make({p, untouched});
    const std::vector<double> after = three_steps(*optimizer, p);
    for (std::size_t t = 0; t < after.size(); ++t)
      CHECK(after[t] == Approx(c.expected[t]).epsilon(1e-12));
    CHECK(untouched.item<double>() == 1.0);  // no gradient, no step
  }
}

}  // namespace

TEST_CASE("Adam and AdamW follow their published update rules for three steps", "[optim]") {
  // t = 1, 2, ...: g += wd p (Adam) or p *= 1 - lr wd (AdamW);
  // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2 (AMSGrad: v_max = max(v_max, v));
  // p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).
  // lr 0.1, b1 0.9, eps 1e-8 throughout.
  const std::vector<Case> cases = {
      // t1: m 0.05, v 0.00025, m_hat 0.5, sqrt(v_hat) 0.5: p = 1 - 0.1 * 0.5 / (0.5 + 1e-8).
      // t2: m -0.055, v 0.00124975, m_hat -0.289474, sqrt(v_hat) 0.790688: p += 0.0366104.
      // t3: m -0.0245, v 0.00131100, m_hat -0.0904059, sqrt(v_hat) 0.661390: p += 0.0136691.
      {"Adam",
       make<optim::Adam>(optim::AdamOptions{.lr = 0.1}),
       {0.900000002, 0.936610354240565, 0.950279420338976}},
      // t1: g 0.5 + 0.1: m 0.06, v 0.00036, same step 0.1 * 0.6 / (0.6 + 1e-8).
      // t2: g -1 + 0.09 = -0.91: m -0.037, v 0.00118774, m_hat -0.194737, sqrt(v_hat) 0.770822.
      {"Adam, L2 weight decay 0.1",
       make<optim::Adam>(optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1}),
       {0.900000001666667, 0.925263519445606, 0.924730574268709}},
      // t1: p = 0.99 first, then the Adam step 0.1: 0.89; t2: 0.89 * 0.99 + 0.0366104.
      {"AdamW, weight decay 0.1",
       make<optim::AdamW>(optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1}),
       {0.890000002, 0.917710354220565, 0.92220231677677}},
      // b2 0.5: v 0.125, 0.5625, then 0.3125; t3 without AMSGrad: m_hat -0.0904059,
      // sqrt(0.3125 / 0.875) 0.597614: p += 0.0151278.
      {"Adam, b2 0.5",
       make<optim::Adam>(optim::AdamOptions{.lr = 0.1, .betas = {0.9, 0.5}}),
       {0.900000002, 0.933425543514487, 0.948553344479125}},
      // AMSGrad keeps v_max 0.5625 at t3: sqrt(0.5625 / 0.875) 0.801784: p += 0.0112756.
      {"Adam, b2 0.5, AMSGrad",
       make<optim::Adam>(optim::AdamOptions{.lr = 0.1, .betas = {0.9, 0.5}, .amsgrad = true}),
       {0.900000002, 0.933425543514487, 0.944701140664872}},
  };
  check_three_steps(cases);
}

TEST_CASE("Adam keeps its state in the parameter's dtype and bumps its version", "[optim]") {
  const Tensor p = ones({2, 3}, TensorOptions(DType::f32).with_requires_grad());
  optim::Adam adam({p}, {});
  const auto version = p.version();
  p.set_grad(full({2, 3}, -1.0));
  adam.step();
  CHECK(p.dtype() == DType::f32);
  CHECK(p.version() > version);  // what tells a computed parameter to recompute
  for (const float value : p.to_vector<float>()) CHECK(value == Approx(1.001f));
}

TEST_CASE("Adam rejects invalid options, naming the optimizer", "[optim]") {
  const Tensor p = weight();
  CHECK_THROWS_WITH((optim::Adam({p}, {.lr = -1})), Catch::Contains("Adam: learning rate"));
  CHECK_THROWS_WITH((optim::AdamW({p}, {.betas = {0.9, 1.0}})),
                    Catch::Contains("AdamW: betas must lie in [0, 1)"));
  CHECK_THROWS_AS((optim::Adam({p}, {.eps = -1e-8})), ValueError);
  CHECK_THROWS_AS((optim::Adam({p}, {.weight_decay = -0.1})), ValueError);
}

TEST_CASE("RMSprop follows its published update rule for three steps", "[optim]") {
  // g += wd p; v = alpha v + (1 - alpha) g^2; centered: a = alpha a + (1 - alpha) g,
  // v~ = v - a^2 (else v~ = v); d = g / (sqrt(v~) + eps);
  // momentum: b = mu b + d, p -= lr b; else p -= lr d. lr 0.1, alpha 0.9, eps 1e-8.
  const std::vector<Case> cases = {
      // t1: v 0.025, sqrt 0.158114, d 3.162278: p = 1 - 0.316228.
      // t2: v 0.9 * 0.025 + 0.1 * 1 = 0.1225, sqrt 0.35, d -2.857143: p += 0.285714.
      // t3: v 0.11025 + 0.00625 = 0.1165, sqrt 0.341321, d 0.732448: p -= 0.0732448.
      {"RMSprop",
       make<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.1, .alpha = 0.9}),
       {0.6837722539831608, 0.9694865315341814, 0.8962416917664732}},
      // a 0.05, -0.055, -0.0245; v~ 0.025 - 0.0025 = 0.0225, 0.1225 - 0.003025 = 0.119475,
      // 0.1165 - 0.00060025 = 0.11589975; d 0.5 / 0.15, -1 / 0.345652, 0.25 / 0.340441.
      {"RMSprop, centered",
       make<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.1, .alpha = 0.9, .centered = true}),
       {0.6666666888888874, 0.9559753715874333, 0.882541107613643}},
      // d as in the first case; b 3.162278, 0.5 * 3.162278 - 2.857143 = -1.276004,
      // 0.5 * -1.276004 + 0.732448 = 0.0944464; p -= 0.1 b each step.
      {"RMSprop, momentum 0.5",
       make<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.1, .alpha = 0.9, .momentum = 0.5}),
       {0.6837722539831608, 0.8113726585257618, 0.801928021029354}},
      // g 0.5 + 0.1 = 0.6: v 0.036, d 0.6 / 0.189737 = 3.162278 (as without decay);
      // t2: g -1 + 0.0683772 = -0.931623, v 0.119192, d -2.698462;
      // t3: g 0.25 + 0.0953618 = 0.345362, v 0.119200, d 1.000312.
      {"RMSprop, weight decay 0.1",
       make<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.1, .alpha = 0.9, .weight_decay = 0.1}),
       {0.6837722506498278, 0.9536184773241494, 0.8535872621408224}},
  };
  check_three_steps(cases);
}

TEST_CASE("Adagrad follows its published update rule for three steps", "[optim]") {
  // g += wd p; lr_t = lr / (1 + (t - 1) lr_decay); s += g^2 (s starts at the
  // initial accumulator value); p -= lr_t g / (sqrt(s) + eps). lr 0.1, eps 1e-10.
  const std::vector<Case> cases = {
      // s 0.25, 1.25, 1.3125: p -= 0.1 * 0.5 / 0.5, += 0.1 / 1.118034, -= 0.025 / 1.145644.
      {"Adagrad",
       make<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1}),
       {0.90000000002, 0.9894427191119917, 0.9676209300902971}},
      // s 0.75 + 0.25 = 1, 2, 2.0625; lr_t 0.1, 0.1 / 1.5, 0.1 / 2:
      // p -= 0.1 * 0.5 / 1, += 0.0666667 / 1.414214, -= 0.05 * 0.25 / 1.436141.
      {"Adagrad, lr_decay 0.5, initial accumulator 0.75",
       make<optim::Adagrad>(
           optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.5, .initial_accumulator_value = 0.75}),
       {0.950000000005, 0.9971404520807698, 0.988436569283591}},
      // g 0.6, -1 + 0.09 = -0.91, 0.25 + 0.0983486 = 0.348349; s 0.36, 1.1881, 1.309447.
      {"Adagrad, weight decay 0.1",
       make<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1, .weight_decay = 0.1}),
       {0.9000000000166667, 0.9834862385410712, 0.9530444492314611}},
  };
  check_three_steps(cases);
}

TEST_CASE("RMSprop and Adagrad reject invalid options, naming the optimizer", "[optim]") {
  const Tensor p = weight();
  CHECK_THROWS_WITH((optim::RMSprop({p}, {.alpha = -0.5})),
                    "RMSprop: alpha must be a finite number >= 0, got -0.5");
  CHECK_THROWS_AS((optim::RMSprop({p}, {.momentum = -1})), ValueError);
  CHECK_THROWS_WITH((optim::Adagrad({p}, {.lr_decay = -1})),
                    "Adagrad: lr_decay must be a finite number >= 0, got -1");
  CHECK_THROWS_AS((optim::Adagrad({p}, {.initial_accumulator_value = -1})), ValueError);
}

TEST_CASE("each parameter group steps with its own options", "[optim]") {
  const Tensor a = weight(), b = weight(), c = weight();
  optim::SGD sgd({{{a, b}, {.lr = 0.1}}, {{c}, {.lr = 0.01, .weight_decay = 1}}});
  REQUIRE(sgd.group_count() == 2);
  CHECK(sgd.parameters().size() == 3);  // a, b, c: their state indices 0, 1, 2
  for (const Tensor& p : {a, b, c}) p.set_grad(full({1}, 1.0, DType::f64));
  sgd.step();
  CHECK(a.item<double>() == Approx(0.9));
  CHECK(b.item<double>() == Approx(0.9));
  CHECK(c.item<double>() == Approx(0.98));  // 1 - 0.01 * (1 + 1 * 1)
  sgd.set_lr(1, 0.5);                       // what a scheduler does
  CHECK(sgd.param_groups()[1].options.lr == 0.5);
  sgd.set_options(0, {.lr = 0});
  sgd.step();
  CHECK(a.item<double>() == Approx(0.9));
  CHECK(c.item<double>() == Approx(0.98 - 0.5 * 1.98));
}

TEST_CASE("parameter groups are checked like one group", "[optim]") {
  const Tensor a = weight(), b = weight();
  CHECK_THROWS_WITH((optim::Adam({{{a}, {.lr = 0.1}}, {{b}, {.lr = -0.1}}})),
                    "Adam: learning rate must be a finite number >= 0, got -0.1");
  CHECK_THROWS_WITH((optim::SGD({{{a}, {}}, {{b, a}, {}}})),
                    "SGD: parameter 2 is parameter 0 again; each may appear in one group only");
}

namespace {

/// Runs `steps` steps of gradients drawn from a fixed sequence on a [2, 3]
/// weight and a [3] bias.
void train(optim::Optimizer& optimizer, int steps, double offset) {
  for (int step = 0; step < steps; ++step) {
    const double g = offset + step;
    for (const Tensor& p : optimizer.parameters()) {
      const std::int64_t n = p.numel();
      p.set_grad(reshape(affine(arange(0, n, 1, DType::f64), 0.1 * g, -g), p.shape()));
    }
    optimizer.step();
  }
}

std::vector<Tensor> fresh_parameters() {
  const TensorOptions trainable = TensorOptions(DType::f64).with_requires_grad();
  return {ones({2, 3}, trainable), full({3}, 0.5, trainable)};
}

}  // namespace

TEST_CASE("optimizer state saves and restores, and both copies step alike", "[optim]") {
  const std::vector<std::pair<std::string, Factory>> kinds = {
      {"SGD", make<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1})},
      {"Adam", make<optim::Adam>(optim::AdamOptions{.lr = 0.1, .amsgrad = true})},
      {"AdamW", make<optim::AdamW>(optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1})},
      {"RMSprop",
       make<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.1, .momentum = 0.5, .centered = true})},
      {"Adagrad", make<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.1})},
  };
  for (const auto& [name, make_optimizer] : kinds) {
    INFO(name);
    const std::unique_ptr<optim::Optimizer> original = make_optimizer(fresh_parameters());
    train(*original, 3, 1.0);
    const StateDict state = original->state_dict();
    CHECK(state.at("0.step").item<std::int64_t>() == 3);
    CHECK(state.at("1.step").item<std::int64_t>() == 3);

    std::vector<Tensor> copies;
    for (const Tensor& p : original->parameters())
      copies.push_back(p.detach().clone().requires_grad_());
    const std::unique_ptr<optim::Optimizer> restored = make_optimizer(copies);
    restored->load_state_dict(state);
    CHECK(restored->state_dict().size() == state.size());

    train(*original, 2, -0.5);
    train(*restored, 2, -0.5);  // the loaded buffers are copies: no shared updates
    for (std::size_t i = 0; i < copies.size(); ++i)
      CHECK(copies[i].to_vector<double>() == original->parameters()[i].to_vector<double>());
  }
}

TEST_CASE("Adam's state is named by parameter index and buffer", "[optim]") {
  const Tensor stepped = weight(), idle = weight();
  optim::Adam adam({idle, stepped}, {});
  CHECK(adam.state_dict().empty());  // created at a parameter's first step
  stepped.set_grad(full({1}, 1.0, DType::f64));
  adam.step();
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : adam.state_dict()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"1.exp_avg", "1.exp_avg_sq", "1.step"});
}

TEST_CASE("load_state_dict rejects a bad key, naming it, and keeps the old state", "[optim]") {
  const Tensor p = weight();
  optim::Adam adam({p}, {.lr = 0.1});
  p.set_grad(full({1}, 1.0, DType::f64));
  adam.step();
  const StateDict good = adam.state_dict();
  const auto with = [&](const std::string& key, const Tensor& tensor) {
    StateDict state = good;
    state[key] = tensor;
    return state;
  };
  const Tensor one = full({1}, 1.0, DType::f64);
  CHECK_THROWS_WITH(adam.load_state_dict(with("0.exp_avg", zeros({2}, DType::f64))),
                    Catch::Contains("key \"0.exp_avg\" has shape [2], parameter 0 has shape [1]"));
  CHECK_THROWS_AS(adam.load_state_dict(with("0.exp_avg", zeros({2}, DType::f64))), ShapeError);
  CHECK_THROWS_WITH(adam.load_state_dict(with("0.momentum_buffer", one)),
                    "Adam.load_state_dict: key \"0.momentum_buffer\" is no state of Adam "
                    "(expected <index>.one of: step, exp_avg, exp_avg_sq, max_exp_avg_sq)");
  CHECK_THROWS_WITH(adam.load_state_dict(with("1.exp_avg", one)),
                    Catch::Contains("key \"1.exp_avg\" names parameter 1, the optimizer has 1"));
  CHECK_THROWS_WITH(adam.load_state_dict(with("exp_avg", one)),
                    Catch::Contains("key \"exp_avg\" is not \"<parameter index>.<name>\""));
  CHECK_THROWS_WITH(adam.load_state_dict(with(".exp_avg", one)),
                    Catch::Contains("key \".exp_avg\" is not \"<parameter index>.<name>\""));
  CHECK_THROWS_WITH(adam.load_state_dict(with("0.step", one)),
                    "Adam.load_state_dict: key \"0.step\" must be one i64 step count, got f64 of "
                    "shape [1]");
  CHECK_THROWS_WITH(adam.load_state_dict(with("0.step", scalar_tensor(-2, DType::i64))),
                    Catch::Contains("key \"0.step\" must be >= 0, got -2"));
  CHECK(adam.state_dict().at("0.exp_avg").is_same(good.at("0.exp_avg")));  // unchanged
}
