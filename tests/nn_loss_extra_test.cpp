// nn::l1_loss, nn::binary_cross_entropy_with_logits and nn::gaussian_nll_loss:
// values worked out by hand, gradients by gradcheck, errors naming the loss.
#include <tether/gradcheck.h>
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

using namespace tether;

namespace {

constexpr nn::Reduction kReductions[] = {nn::Reduction::none, nn::Reduction::mean,
                                         nn::Reduction::sum};

double value(const Tensor& loss) {
  return loss.item<double>();
}

}  // namespace

TEST_CASE("l1_loss averages or sums absolute differences", "[loss]") {
  const Tensor input = tensor({1, -2, 3}, {3}, DType::f64);
  const Tensor target = tensor({0, 0, 5}, {3}, DType::f64);
  CHECK(value(nn::l1_loss(input, target)) == Approx(5.0 / 3));
  CHECK(value(nn::l1_loss(input, target, nn::Reduction::sum)) == Approx(5));
  CHECK(nn::l1_loss(input, target, nn::Reduction::none).to_vector<double>() ==
        std::vector<double>{1, 2, 2});
  CHECK_THROWS_WITH(nn::l1_loss(input, zeros({2}, DType::f64)),
                    "l1_loss: input [3] and target [2] must have the same shape");
}

TEST_CASE("binary_cross_entropy_with_logits matches -log sigmoid by hand", "[loss]") {
  // Logit 0 with label 1 costs log 2; logit 2 with label 0 costs
  // -log(1 - sigmoid(2)) = log(1 + e^2).
  const Tensor logits = tensor({0, 2}, {2}, DType::f64);
  const Tensor labels = tensor({1, 0}, {2}, DType::f64);
  const double row0 = std::log(2.0), row1 = std::log(1 + std::exp(2.0));
  CHECK(value(nn::binary_cross_entropy_with_logits(logits, labels)) == Approx((row0 + row1) / 2));
  // pos_weight scales only the positive term.
  CHECK(value(nn::binary_cross_entropy_with_logits(logits, labels, nn::Reduction::sum,
                                                   tensor({3}, {1}, DType::f64))) ==
        Approx(3 * row0 + row1));
}

TEST_CASE("binary_cross_entropy_with_logits stays finite for large logits", "[loss]") {
  const Tensor logits = tensor({100, -100, -100}, {3}, DType::f64);
  const auto each = nn::binary_cross_entropy_with_logits(logits, tensor({1, 0, 1}, {3}, DType::f64),
                                                         nn::Reduction::none)
                        .to_vector<double>();
  CHECK(each[0] == Approx(0).margin(1e-40));
  CHECK(each[1] == Approx(0).margin(1e-40));
  CHECK(each[2] == Approx(100));
}

TEST_CASE("gaussian_nll_loss matches the Gaussian log-likelihood by hand", "[loss]") {
  // 0.5 * (log var + diff^2 / var): 0.5 * (0 + 1) and 0.5 * (log 4 + 1).
  const Tensor input = tensor({1, 2}, {2, 1}, DType::f64);
  const Tensor target = zeros({2, 1}, DType::f64);
  const Tensor var = tensor({1, 4}, {2, 1}, DType::f64);
  const double row0 = 0.5, row1 = 0.5 * (std::log(4.0) + 1);
  CHECK(value(nn::gaussian_nll_loss(input, target, var)) == Approx((row0 + row1) / 2));
  CHECK(value(nn::gaussian_nll_loss(input, target, var, true, 1e-6, nn::Reduction::sum)) ==
        Approx(row0 + row1 + std::log(2 * std::numbers::pi)));
  // var may lack the last dim; a zero variance is clamped to eps.
  CHECK(value(nn::gaussian_nll_loss(input, target, tensor({1, 4}, {2}, DType::f64))) ==
        Approx((row0 + row1) / 2));
  CHECK(value(nn::gaussian_nll_loss(target, target, zeros({2, 1}, DType::f64), false, 0.5)) ==
        Approx(0.5 * std::log(0.5)));
}

TEST_CASE("gaussian_nll_loss rejects bad var shapes and negative variances", "[loss]") {
  const Tensor x = zeros({2, 3}, DType::f64);
  CHECK_NOTHROW(nn::gaussian_nll_loss(x, x, ones({2, 1}, DType::f64)));
  CHECK_THROWS_AS(nn::gaussian_nll_loss(x, x, ones({3}, DType::f64)), ShapeError);
  CHECK_THROWS_WITH(
      nn::gaussian_nll_loss(x, x, ones({2, 2}, DType::f64)),
      Catch::StartsWith("gaussian_nll_loss: expected var [2, 3]") && Catch::EndsWith("got [2, 2]"));
  CHECK_THROWS_AS(nn::gaussian_nll_loss(x, x, -ones({2, 3}, DType::f64)), ValueError);
}

TEST_CASE("l1, binary cross-entropy and Gaussian NLL losses pass gradcheck in f64", "[loss]") {
  manual_seed(4);
  const Tensor x = randn({3, 4}, DType::f64).requires_grad_();
  const Tensor target = randn({3, 4}, DType::f64).requires_grad_();
  const Tensor labels = rand({3, 4}, DType::f64);
  const Tensor var = (rand({3, 1}, DType::f64) + 0.5).requires_grad_();
  const Tensor pos_weight = tensor({0.5, 1, 2, 3}, {4}, DType::f64);
  for (const auto reduction : kReductions) {
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& in) { return nn::l1_loss(in[0], in[1], reduction); },
        {x, target}));
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& in) {
          return nn::binary_cross_entropy_with_logits(in[0], labels, reduction, pos_weight);
        },
        {x}));
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& in) {
          return nn::gaussian_nll_loss(in[0], in[1], in[2], true, 1e-6, reduction);
        },
        {x, target, var}));
  }
}
