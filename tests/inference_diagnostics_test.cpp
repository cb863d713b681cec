// tether::inference's chain diagnostics: effective sample size and split R-hat
// on chains whose answers are known.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "tether/tether.h"

namespace tether::inference {
namespace {

/// An AR(1) chain x[t] = phi x[t-1] + e[t], stationary from its start, as
/// [1, n, 1] f64: its integrated autocorrelation time is (1 + phi) / (1 - phi).
Tensor ar1_chain(std::int64_t n, double phi) {
  std::vector<double> x(n);
  const std::vector<double> noise = randn({n}, DType::f64).to_vector<double>();
  x[0] = noise[0] / std::sqrt(1.0 - phi * phi);
  for (std::int64_t t = 1; t < n; ++t) x[t] = phi * x[t - 1] + noise[t];
  return tensor(x, {1, n, 1}, DType::f64);
}

TEST_CASE("effective sample size of independent draws is close to their number", "[inference]") {
  manual_seed(1);
  const Tensor ess = effective_sample_size(randn({2, 1000, 3}, DType::f64));
  REQUIRE(ess.shape() == Shape{3});
  for (double e : ess.to_vector<double>()) CHECK(e == Approx(2000.0).epsilon(0.15));
}

TEST_CASE("effective sample size of an AR(1) chain is n (1 - phi) / (1 + phi)", "[inference]") {
  manual_seed(2);
  const Tensor ess = effective_sample_size(ar1_chain(4000, 0.5));
  CHECK(ess.item<double>() == Approx(4000.0 / 3.0).epsilon(0.2));
}

TEST_CASE("split R-hat is near 1 for agreeing chains and large for chains apart", "[inference]") {
  manual_seed(3);
  const Tensor agreeing = randn({4, 500}, DType::f64).unsqueeze(2);
  CHECK(split_rhat(agreeing).item<double>() == Approx(1.0).margin(0.01));
  const Tensor apart = agreeing + tensor({0.0, 0.0, 0.0, 5.0}, {4, 1, 1}, DType::f64);
  CHECK(split_rhat(apart).item<double>() > 1.5);
}

TEST_CASE("effective sample size of a constant chain is nan", "[inference]") {
  CHECK(std::isnan(effective_sample_size(ones({1, 10}, DType::f64)).item<double>()));
}

TEST_CASE("diagnostics of draws without a chain dimension throw a ShapeError naming the function",
          "[inference]") {
  CHECK_THROWS_WITH(effective_sample_size(ones({10}, DType::f64)),
                    Catch::Contains("effective_sample_size: expected draws of shape") &&
                        Catch::Contains("got [10]"));
  CHECK_THROWS_AS(split_rhat(ones({2, 3}, DType::f64)), ShapeError);
}

}  // namespace
}  // namespace tether::inference
