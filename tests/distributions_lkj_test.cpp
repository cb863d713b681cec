// LKJCholesky beyond the torch reference (distributions_reference_test.cpp):
// gradcheck of log_prob, the onion method's draws (in the support, with the
// LKJ marginal moments of the correlations), shapes, validation and support.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "distributions_testing.h"
#include "tether/tether.h"

namespace tether::distributions {
namespace {

using namespace testing;

/// A 3 x 3 Cholesky factor of a correlation matrix.
Tensor factor() {
  return tensor({1.0, 0.0, 0.0, 0.6, 0.8, 0.0, -0.3, 0.4, std::sqrt(0.75)}, {3, 3}, DType::f64);
}

TEST_CASE("LKJCholesky's log_prob passes gradcheck in the factor and the concentration",
          "[distributions]") {
  // gradcheck steps the factor off unit-norm rows: the formula, unvalidated, is smooth there.
  gradcheck_log_prob(
      "LKJCholesky",
      [](const std::vector<Tensor>& p) { return std::make_unique<LKJCholesky>(3, p[0], false); },
      {f64({0.5, 2.0})}, factor());
}

TEST_CASE("LKJCholesky draws are correlation factors whose correlations have the LKJ marginals",
          "[distributions]") {
  manual_seed(13);
  for (double concentration : {0.5, 2.0}) {
    INFO("concentration " << concentration);
    const LKJCholesky lkj(4, scalar_tensor(concentration, DType::f64));
    const Tensor l = lkj.sample({20000});
    REQUIRE(l.shape() == Shape{20000, 4, 4});
    CHECK_NOTHROW(lkj.log_prob(l));
    // Each correlation r of C = L L^T has (r + 1) / 2 ~ Beta(a, a) with a =
    // concentration - 1 + dim / 2: mean 0, variance 1 / (2 concentration + dim - 1).
    const Tensor c = matmul(l, l.mT());
    const double variance = 1.0 / (2.0 * concentration + 3.0);
    for (const auto& [i, j] : {std::pair{1, 0}, {2, 1}, {3, 0}, {3, 2}}) {
      INFO("C[" << i << ", " << j << "]");
      check_moments("correlation", c.select(1, i).select(1, j), 0.0, variance);
    }
  }
}

TEST_CASE("LKJCholesky's batch is the concentration's and its event the factor",
          "[distributions]") {
  const LKJCholesky lkj(4, ones({2}));
  CHECK(lkj.batch_shape() == Shape{2});
  CHECK(lkj.event_shape() == Shape{4, 4});
  CHECK(lkj.sample({5}).shape() == Shape{5, 2, 4, 4});
  CHECK(lkj.log_prob(eye(4)).shape() == Shape{2});
  CHECK(lkj.sample().dtype() == DType::f32);
  CHECK_FALSE(lkj.has_rsample());
}

TEST_CASE("invalid LKJCholesky arguments and values are ValueErrors naming them",
          "[distributions]") {
  require_value_error([] { LKJCholesky(1); }, {"LKJCholesky", "dim", ">= 2", "1"});
  require_value_error([] { LKJCholesky(3, -1.0); }, {"LKJCholesky", "concentration", "> 0"});
  require_value_error([] { LKJCholesky(3).log_prob(factor().mT()); },
                      {"LKJCholesky.log_prob", "lower triangular"});
  require_value_error([] { LKJCholesky(3).log_prob(2.0 * eye(3)); },
                      {"LKJCholesky.log_prob", "unit-norm rows"});
  require_value_error([] { LKJCholesky(3).mean(); }, {"LKJCholesky", "mean"});
  require_value_error([] { LKJCholesky(3).variance(); }, {"LKJCholesky", "variance"});
}

TEST_CASE("LKJCholesky's support is cholesky_corr, a bijection over matrices", "[distributions]") {
  const auto support = LKJCholesky(3).support();
  REQUIRE(support);
  CHECK(support->is_bijection());
  CHECK(support->event_dim() == 2);
}

}  // namespace
}  // namespace tether::distributions
