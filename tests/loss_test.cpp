// nn::cross_entropy and nn::nll_loss: values worked out by hand, gradients by
// gradcheck, and errors that name the loss.
#include <tether/gradcheck.h>
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>

using namespace tether;

namespace {

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
  CHECK_THROWS_AS(nn::cross_entropy(logits(), labels().to(DType::f64)), DTypeError);
  CHECK_THROWS_WITH(
      nn::cross_entropy(logits(), labels().to(DType::f64)),
      Catch::Contains("cross_entropy: expected an i64 target") && Catch::Contains("got f64"));
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
