// Random draws (randint, randperm, multinomial, bernoulli): their ranges, their
// distributions within loose statistical bounds at fixed seeds (each bound is
// several standard errors wide), reproducibility under manual_seed, and errors
// that name the op.
#include <tether/tether.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <iostream>
#include <numeric>

using namespace tether;
using Catch::Matchers::Contains;

namespace {

/// How often each of 0..categories-1 occurs in i64 `draws`, as fractions.
std::vector<double> frequencies(const Tensor& draws, std::int64_t categories) {
  std::vector<double> counts(static_cast<std::size_t>(categories), 0.0);
  const auto values = draws.to_vector<std::int64_t>();
  for (const std::int64_t v : values) counts.at(static_cast<std::size_t>(v)) += 1;
  for (double& c : counts) c /= static_cast<double>(values.size());
  return counts;
}

}  // namespace

TEST_CASE("randint draws i64 values from low up to high - 1, each about equally often",
          "[random]") {
  manual_seed(1);
  const Tensor draws = randint(-3, 2, {20000});
  CHECK(draws.dtype() == DType::i64);
  CHECK(draws.shape() == Shape{20000});
  CHECK(amin(draws).item<std::int64_t>() == -3);
  CHECK(amax(draws).item<std::int64_t>() == 1);
  // Each of 5 values has frequency 0.2 with standard error 0.003.
  for (const double f : frequencies(draws + 3, 5)) CHECK(f == Approx(0.2).margin(0.015));
  CHECK(randint(4, {2, 3}).shape() == Shape{2, 3});
  CHECK(randint(0, 10, {3}, DType::f64).dtype() == DType::f64);
}

TEST_CASE("randint covers the whole i64 range and repeats under manual_seed", "[random]") {
  manual_seed(3);
  const auto wide = randint(std::numeric_limits<std::int64_t>::min(),
                            std::numeric_limits<std::int64_t>::max(), {1000})
                        .to_vector<std::int64_t>();
  CHECK(std::count_if(wide.begin(), wide.end(), [](std::int64_t v) { return v < 0; }) ==
        Approx(500).margin(80));
  manual_seed(3);
  CHECK(randint(std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
                {1000})
            .to_vector<std::int64_t>() == wide);
}

TEST_CASE("randint names itself for high <= low", "[random]") {
  CHECK_THROWS_AS(randint(5, 5, {2}), ValueError);
  CHECK_THROWS_WITH(randint(5, 2, {2}),
                    Contains("randint: expected low < high, got low 5 and high 2"));
  CHECK_THROWS_WITH(randint(0, {2}), Contains("randint: expected low < high"));
}

TEST_CASE("randperm is a permutation of 0..n-1 with every position uniform", "[random]") {
  manual_seed(2);
  auto order = randperm(10).to_vector<std::int64_t>();
  std::sort(order.begin(), order.end());
  std::vector<std::int64_t> all(10);
  std::iota(all.begin(), all.end(), 0);
  CHECK(order == all);
  // Where 0 lands over 5000 permutations of 4: each place about 1/4 (s.e. 0.006).
  std::vector<double> place(4, 0.0);
  for (int i = 0; i < 5000; ++i) {
    const auto p = randperm(4).to_vector<std::int64_t>();
    place[std::find(p.begin(), p.end(), 0) - p.begin()] += 1.0 / 5000;
  }
  for (const double f : place) CHECK(f == Approx(0.25).margin(0.03));
  CHECK(randperm(0).numel() == 0);
  CHECK(randperm(3, DType::f32).dtype() == DType::f32);
  CHECK_THROWS_WITH(randperm(-1), Contains("randperm: expected a non-negative n, got -1"));
  // A count too large for memory is refused as a shape is, before any drawing.
  CHECK_THROWS_AS(randperm(std::int64_t{1} << 62), ShapeError);
  CHECK_THROWS_WITH(randperm(std::int64_t{1} << 40), Contains("randperm: shape [1099511627776]"));
  CHECK_THROWS_WITH(randint(5, {std::int64_t{1} << 40}), Contains("randint: shape"));
}

TEST_CASE("multinomial with replacement draws categories in proportion to their weights",
          "[random]") {
  manual_seed(4);
  // Unnormalised weights 1 : 0 : 3 : 4 in f32 -> 0.125, 0, 0.375, 0.5.
  const Tensor draws = multinomial(tensor({1, 0, 3, 4}), 20000, true);
  CHECK(draws.dtype() == DType::i64);
  CHECK(draws.shape() == Shape{20000});
  const auto f = frequencies(draws, 4);
  CHECK(f[0] == Approx(0.125).margin(0.012));
  CHECK(f[1] == 0);
  CHECK(f[2] == Approx(0.375).margin(0.015));
  CHECK(f[3] == Approx(0.5).margin(0.015));
}

TEST_CASE("multinomial without replacement draws distinct categories, first ones by weight",
          "[random]") {
  manual_seed(5);
  // Rows of weights [R, C]: every row's draws are a permutation of its positive categories.
  const Tensor probs = tensor({0.1, 0.2, 0.3, 0.4, 1, 1, 0, 1}, {2, 4}, DType::f64);
  const Tensor all = multinomial(probs, 3);
  CHECK(all.shape() == Shape{2, 3});
  auto second_row = all.select(0, 1).to_vector<std::int64_t>();
  std::sort(second_row.begin(), second_row.end());
  CHECK(second_row == std::vector<std::int64_t>{0, 1, 3});
  // The first draw follows the weights; the second follows them with the
  // first removed: P(second = 0) = sum over first j != 0 of w_j * w_0 / (1 - w_j).
  std::vector<double> first(4, 0.0), second(4, 0.0);
  const int trials = 6000;
  for (int i = 0; i < trials; ++i) {
    const auto d = multinomial(probs.select(0, 0), 2).to_vector<std::int64_t>();
    REQUIRE(d[0] != d[1]);
    first[d[0]] += 1.0 / trials;
    second[d[1]] += 1.0 / trials;
  }
  const std::vector<double> w{0.1, 0.2, 0.3, 0.4};
  for (std::size_t k = 0; k < 4; ++k) {
    double expected = 0;
    for (std::size_t j = 0; j < 4; ++j)
      if (j != k) expected += w[j] * w[k] / (1 - w[j]);
    CHECK(first[k] == Approx(w[k]).margin(0.025));
    CHECK(second[k] == Approx(expected).margin(0.025));
  }
}

TEST_CASE("multinomial names itself for weights and sample counts it cannot draw from",
          "[random]") {
  const Tensor w = tensor({0.5, 0.5, 0});
  CHECK_THROWS_WITH(multinomial(tensor({0.5, -0.1}), 1),
                    Contains("multinomial: expected finite, non-negative weights"));
  CHECK_THROWS_WITH(multinomial(tensor({0.5, INFINITY}), 1),
                    Contains("multinomial: expected finite, non-negative weights"));
  CHECK_THROWS_WITH(multinomial(tensor({0.5, NAN}), 1),
                    Contains("multinomial: expected finite, non-negative weights"));
  CHECK_THROWS_WITH(multinomial(tensor({0, 0}), 1, true),
                    Contains("multinomial: a row of probs has no positive weight"));
  CHECK_THROWS_WITH(multinomial(w, 4), Contains("multinomial: cannot draw 4 samples from 3 "
                                                "categories without replacement"));
  CHECK_THROWS_WITH(multinomial(w, 3), Contains("has 2 positive weights, too few for 3 samples"));
  CHECK_NOTHROW(multinomial(w, 3, true));
  CHECK_THROWS_WITH(multinomial(w, 0), Contains("multinomial: expected num_samples >= 1, got 0"));
  CHECK_THROWS_AS(multinomial(tensor({1, 2}, DType::i64), 1), DTypeError);
  CHECK_THROWS_AS(multinomial(zeros({2, 2, 2}), 1), ShapeError);
  CHECK(multinomial(zeros({0, 3}), 2, true).shape() == Shape{0, 2});
}

TEST_CASE("bernoulli gives 0 or 1 in p's dtype, 1 with probability p", "[random]") {
  manual_seed(6);
  const Tensor p = full({20000}, 0.3, DType::f64);
  const Tensor draws = bernoulli(p);
  CHECK(draws.dtype() == DType::f64);
  const auto values = draws.to_vector<double>();
  CHECK(std::all_of(values.begin(), values.end(), [](double v) { return v == 0 || v == 1; }));
  CHECK(mean(draws).item<double>() == Approx(0.3).margin(0.015));
  const Tensor certain = bernoulli(tensor({0, 1, 0, 1}));
  CHECK(certain.dtype() == DType::f32);
  CHECK(certain.to_vector<float>() == std::vector<float>{0, 1, 0, 1});
  CHECK_FALSE(bernoulli(tensor({0.5}).requires_grad_()).requires_grad());
}

TEST_CASE("bernoulli names itself for a probability below 0 or above 1", "[random]") {
  CHECK_THROWS_WITH(bernoulli(tensor({0.5, 1.5})),
                    Contains("bernoulli: expected every probability in [0, 1], got 0.5 to 1.5"));
  CHECK_THROWS_AS(bernoulli(tensor({NAN})), ValueError);
  CHECK_THROWS_AS(bernoulli(tensor({1, 0}, DType::i64)), DTypeError);
}

TEST_CASE("random draws on CUDA equal the CPU's under the same seed", "[random][cuda]") {
  if (!cuda_is_available()) {
    std::cout << "TETHER_TEST_SKIPPED: no usable CUDA device in this build or machine" << std::endl;
    return;
  }
  const Tensor weights = tensor({0.1, 0.0, 2.0, 0.7, 1.0, 1.0, 1.0, 0.0}, {2, 4}, DType::f64);
  const auto draw = [&](Device device) {
    manual_seed(11);
    return std::vector<std::vector<std::int64_t>>{
        multinomial(weights.to(device), 50, true).to(Device::cpu()).to_vector<std::int64_t>(),
        multinomial(weights.to(device), 3).to(Device::cpu()).to_vector<std::int64_t>(),
        randint(-5, 5, {20}, device).to(Device::cpu()).to_vector<std::int64_t>(),
        randperm(20, device).to(Device::cpu()).to_vector<std::int64_t>(),
        bernoulli(full({20}, 0.5, TensorOptions(DType::f64).with_device(device)))
            .to(Device::cpu())
            .to(DType::i64)
            .to_vector<std::int64_t>()};
  };
  CHECK(draw(Device::cuda()) == draw(Device::cpu()));
}
