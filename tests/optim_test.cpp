// optim::Adam and optim::AdamW against their published update rules, worked out
// by hand for one weight over three steps.
#include <tether/tether.h>
#include <catch2/catch.hpp>

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

}  // namespace

TEST_CASE("Adam and AdamW follow their published update rules for three steps", "[optim]") {
  // t = 1, 2, ...: g += wd p (Adam) or p *= 1 - lr wd (AdamW);
  // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2 (AMSGrad: v_max = max(v_max, v));
  // p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).
  // lr 0.1, b1 0.9, eps 1e-8 throughout.
  struct Case {
    std::string name;
    bool decoupled;
    optim::AdamOptions options;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      // t1: m 0.05, v 0.00025, m_hat 0.5, sqrt(v_hat) 0.5: p = 1 - 0.1 * 0.5 / (0.5 + 1e-8).
      // t2: m -0.055, v 0.00124975, m_hat -0.289474, sqrt(v_hat) 0.790688: p += 0.0366104.
      // t3: m -0.0245, v 0.00131100, m_hat -0.0904059, sqrt(v_hat) 0.661390: p += 0.0136691.
      {"Adam", false, {.lr = 0.1}, {0.900000002, 0.936610354240565, 0.950279420338976}},
      // t1: g 0.5 + 0.1: m 0.06, v 0.00036, same step 0.1 * 0.6 / (0.6 + 1e-8).
      // t2: g -1 + 0.09 = -0.91: m -0.037, v 0.00118774, m_hat -0.194737, sqrt(v_hat) 0.770822.
      {"Adam, L2 weight decay 0.1",
       false,
       {.lr = 0.1, .weight_decay = 0.1},
       {0.900000001666667, 0.925263519445606, 0.924730574268709}},
      // t1: p = 0.99 first, then the Adam step 0.1: 0.89; t2: 0.89 * 0.99 + 0.0366104.
      {"AdamW, weight decay 0.1",
       true,
       {.lr = 0.1, .weight_decay = 0.1},
       {0.890000002, 0.917710354220565, 0.92220231677677}},
      // b2 0.5: v 0.125, 0.5625, then 0.3125; t3 without AMSGrad: m_hat -0.0904059,
      // sqrt(0.3125 / 0.875) 0.597614: p += 0.0151278.
      {"Adam, b2 0.5",
       false,
       {.lr = 0.1, .betas = {0.9, 0.5}},
       {0.900000002, 0.933425543514487, 0.948553344479125}},
      // AMSGrad keeps v_max 0.5625 at t3: sqrt(0.5625 / 0.875) 0.801784: p += 0.0112756.
      {"Adam, b2 0.5, AMSGrad",
       false,
       {.lr = 0.1, .betas = {0.9, 0.5}, .amsgrad = true},
       {0.900000002, 0.933425543514487, 0.944701140664872}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const Tensor p = weight(), untouched = weight();
    std::unique_ptr<optim::Optimizer> optimizer;
    if (c.decoupled)
      optimizer = std::make_unique<optim::AdamW>(std::vector{p, untouched}, c.options);
    else
      optimizer = std::make_unique<optim::Adam>(std::vector{p, untouched}, c.options);
    const std::vector<double> after = three_steps(*optimizer, p);
    for (std::size_t t = 0; t < after.size(); ++t)
      CHECK(after[t] == Approx(c.expected[t]).epsilon(1e-12));
    CHECK(untouched.item<double>() == 1.0);  // no gradient, no step
  }
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
