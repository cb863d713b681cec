// tether::inference::advi and laplace on Gaussian targets, where mean-field
// variational inference (for a diagonal target) and the Laplace approximation
// are exact.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "tether/tether.h"

namespace tether::inference {
namespace {

/// Independent Normals with means (1, -2, 0.5) and sds (0.5, 2, 1), split over
/// a [2] and a 0-d tensor.
Tensor diagonal_gaussian(const std::vector<Tensor>& x) {
  const Tensor first =
      (x[0] - tensor({1.0, -2.0}, x[0].options())) / tensor({0.5, 2.0}, x[0].options());
  const Tensor second = x[1] - 0.5;
  return -(first * first).sum() / 2.0 - second * second / 2.0;
}

std::vector<Tensor> origin() {
  return {zeros({2}, DType::f64), zeros({}, DType::f64)};
}

TEST_CASE("advi recovers a diagonal Gaussian's means and sds", "[inference]") {
  manual_seed(11);
  const AdviResult fit =
      advi(diagonal_gaussian, origin(), {.num_steps = 600, .num_samples = 4, .lr = 0.05});
  REQUIRE(fit.elbo.size() == 600);
  const std::vector<double> mean = fit.means[0].to_vector<double>();
  const std::vector<double> sd = fit.sds[0].to_vector<double>();
  CHECK(mean[0] == Approx(1.0).margin(0.05));
  CHECK(mean[1] == Approx(-2.0).margin(0.25));
  CHECK(fit.means[1].item<double>() == Approx(0.5).margin(0.12));
  CHECK(sd[0] == Approx(0.5).epsilon(0.08));
  CHECK(sd[1] == Approx(2.0).epsilon(0.08));
  CHECK(fit.sds[1].item<double>() == Approx(1.0).epsilon(0.08));
  CHECK(fit.means[1].shape() == Shape{});
  // At the optimum the ELBO is log Z = sum log(sd sqrt(2 pi)) for this unnormalised density.
  const double log_z = std::log(0.5 * 2.0 * 1.0) + 1.5 * std::log(2.0 * M_PI);
  CHECK(fit.elbo.back() == Approx(log_z).margin(0.5));
}

TEST_CASE("advi from a point where the log density is nan throws naming advi", "[inference]") {
  CHECK_THROWS_WITH(advi([](const std::vector<Tensor>& x) { return x[0].log().sum(); },
                         {tensor({-1.0}, DType::f64)}),
                    Catch::Contains("advi: log_density at the initial point is nan"));
}

TEST_CASE("laplace on a correlated Gaussian gives its mean and covariance exactly", "[inference]") {
  // Precision [[2, 0.5], [0.5, 1]] about (1, -2), with a 0-d third coordinate of variance 4.
  const auto gaussian = [](const std::vector<Tensor>& x) {
    const Tensor a = x[0].select(0, 0) - 1.0, b = x[0].select(0, 1) + 2.0, c = x[1] - 3.0;
    return -(2.0 * a * a + a * b + b * b) / 2.0 - c * c / 8.0;
  };
  const LaplaceResult fit = laplace(gaussian, origin());
  CHECK(fit.mode[0].to_vector<double>()[0] == Approx(1.0).margin(1e-10));
  CHECK(fit.mode[0].to_vector<double>()[1] == Approx(-2.0).margin(1e-10));
  CHECK(fit.mode[1].item<double>() == Approx(3.0).margin(1e-10));
  // The inverse of [[2, 0.5], [0.5, 1]] is [[1, -0.5], [-0.5, 2]] / 1.75.
  const std::vector<double> expected{1 / 1.75, -0.5 / 1.75, 0, -0.5 / 1.75, 2 / 1.75, 0, 0, 0, 4};
  const std::vector<double> covariance = fit.covariance.to_vector<double>();
  REQUIRE(fit.covariance.shape() == Shape{3, 3});
  for (std::size_t i = 0; i < expected.size(); ++i)
    CHECK(covariance[i] == Approx(expected[i]).margin(1e-10));
}

TEST_CASE("laplace at a given point uses it as the mode", "[inference]") {
  const LaplaceResult fit = laplace(diagonal_gaussian, origin(), {.find_mode = false});
  CHECK(fit.mode[0].to_vector<double>() == std::vector<double>{0.0, 0.0});
  CHECK(fit.covariance.diagonal().to_vector<double>()[1] == Approx(4.0));
}

TEST_CASE("laplace where the negative Hessian is not positive definite throws a LinAlgError",
          "[inference]") {
  const auto saddle = [](const std::vector<Tensor>& x) {
    return (x[0].select(0, 0) * x[0].select(0, 0) - x[0].select(0, 1) * x[0].select(0, 1)) / 2.0;
  };
  CHECK_THROWS_AS(laplace(saddle, {zeros({2}, DType::f64)}), LinAlgError);
  CHECK_THROWS_WITH(laplace(saddle, {zeros({2}, DType::f64)}),
                    Catch::Contains("laplace: the negative Hessian of log_density is not positive "
                                    "definite"));
}

TEST_CASE("laplace with a log density of more than one element throws naming laplace",
          "[inference]") {
  CHECK_THROWS_WITH(
      laplace([](const std::vector<Tensor>& x) { return x[0]; }, {zeros({3}, DType::f64)}),
      Catch::Contains("laplace: log_density must return one element, got shape [3]"));
}

}  // namespace
}  // namespace tether::inference
