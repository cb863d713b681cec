// nn's losses beyond their op-table entries (op_table_loss.cpp): values
// worked out by hand under every reduction and option, gradients by gradcheck,
// large logits, and errors that name the loss.
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

// Row 0 [1, 2, 3] with label 2: logsumexp 3 + log(1 + e^-1 + e^-2), loss
// log(1 + e^-1 + e^-2) = 0.407605964444. Row 1 [1, 1, 1] with label 0: log 3.
Tensor logits() {
  return tensor({1, 2, 3, 1, 1, 1}, {2, 3}, DType::f64);
}
Tensor labels() {
  return tensor({2, 0}, {2}, DType::i64);
}
const double kRow0 = 0.407605964444, kRow1 = std::log(3.0);

}  // namespace

TEST_CASE("cross_entropy of logits against labels matches hand-computed values", "[loss]") {
  CHECK(nn::cross_entropy(logits(), labels()).item<double>() ==
        Approx((kRow0 + kRow1) / 2).epsilon(1e-11));
  CHECK(nn::cross_entropy(logits(), labels(), nn::Reduction::sum).item<double>() ==
        Approx(kRow0 + kRow1).epsilon(1e-11));
  const auto each = nn::cross_entropy(logits(), labels(), nn::Reduction::none).to_vector<double>();
  REQUIRE(each.size() == 2);
  CHECK(each[0] == Approx(kRow0).epsilon(1e-11));
  CHECK(each[1] == Approx(kRow1).epsilon(1e-11));
}

TEST_CASE("nll_loss picks the negative log-probability of each label", "[loss]") {
  const Tensor log_probs = log(tensor({0.2, 0.3, 0.5, 0.6, 0.1, 0.3}, {2, 3}, DType::f64));
  const Tensor target = tensor({1, 0}, {2}, DType::i64);
  CHECK(nn::nll_loss(log_probs, target).item<double>() ==
        Approx(-(std::log(0.3) + std::log(0.6)) / 2).epsilon(1e-12));
  CHECK(nn::nll_loss(log_probs, target, nn::Reduction::sum).item<double>() ==
        Approx(-(std::log(0.3) + std::log(0.6))).epsilon(1e-12));
}

TEST_CASE("cross_entropy with label smoothing mixes in the uniform target", "[loss]") {
  // e = 0.1, C = 3: row 0 is 0.9 * its loss + 0.1 * (logsumexp - mean of the
  // logits) = 0.9 * 0.407606 + 0.1 * 1.407606; row 1's logits are equal, so
  // every class costs log 3 and smoothing changes nothing.
  const double row0 = 0.9 * kRow0 + 0.1 * (kRow0 + 1);
  CHECK(nn::cross_entropy(logits(), labels(), nn::Reduction::mean, 0.1).item<double>() ==
        Approx((row0 + kRow1) / 2).epsilon(1e-11));
}

TEST_CASE("cross_entropy and nll_loss pass gradcheck in f64", "[loss]") {
  manual_seed(3);
  const Tensor x = randn({4, 5}, DType::f64).requires_grad_();
  const Tensor target = tensor({4, 0, 2, 2}, {4}, DType::i64);
  for (const auto reduction : {nn::Reduction::none, nn::Reduction::mean, nn::Reduction::sum}) {
    for (const double smoothing : {0.0, 0.2}) {
      CHECK(gradcheck(
          [&](const std::vector<Tensor>& in) {
            return nn::cross_entropy(in[0], target, reduction, smoothing);
          },
          {x}));
    }
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& in) {
          return nn::nll_loss(log_softmax(in[0], 1), target, reduction);
        },
        {x}));
  }
}

TEST_CASE("cross_entropy and nll_loss name themselves and what arrived on bad input", "[loss]") {
  // A floating target holds class probabilities, so it must have the scores' shape.
  CHECK_THROWS_AS(nn::cross_entropy(logits(), labels().to(DType::f64)), ShapeError);
  CHECK_THROWS_WITH(nn::cross_entropy(logits(), labels().to(DType::f64)),
                    Catch::Contains("cross_entropy: expected class probabilities of the scores' "
                                    "shape [2, 3], got [2]"));
  CHECK_THROWS_WITH(nn::cross_entropy(logits(), tensor({0, 1, 2}, {3}, DType::i64)),
                    Catch::Contains("cross_entropy: expected scores [N, C, d1, ...] and target "
                                    "[N, d1, ...] (or [C] and []), got [2, 3] and [3]"));
  CHECK_THROWS_WITH(nn::cross_entropy(scalar_tensor(1.0, DType::f64), labels()),
                    Catch::Contains("cross_entropy: expected scores [C] or [N, C, d1, ...]"));
  CHECK_THROWS_AS(nn::cross_entropy(labels(), labels()), DTypeError);
  CHECK_THROWS_AS(nn::nll_loss(logits(), tensor({0, 1, 2}, {3}, DType::i64)), ShapeError);
  CHECK_THROWS_WITH(nn::nll_loss(logits(), tensor({0, 1, 2}, {3}, DType::i64)),
                    Catch::Contains("nll_loss: expected scores [N, C] and target [N]") &&
                        Catch::Contains("[2, 3]") && Catch::Contains("[3]"));
  CHECK_THROWS_AS(nn::cross_entropy(logits(), tensor({0, 3}, {2}, DType::i64)), IndexError);
  CHECK_THROWS_WITH(nn::cross_entropy(logits(), tensor({0, 3}, {2}, DType::i64)),
                    Catch::Contains("cross_entropy: expected target class indices in [0, 3)") &&
                        Catch::Contains("index 3"));
  CHECK_THROWS_AS(nn::cross_entropy(logits(), labels(), nn::Reduction::mean, 1.5), ValueError);
}

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
