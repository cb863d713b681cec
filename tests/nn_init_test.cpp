// nn::init: the statistics of each initialiser on a large tensor, and that
// the write lands in raw, projected and constrained parameters alike.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace tether;

namespace {

struct Stats {
  double min, max, mean, std;
};

Stats stats_of(const Tensor& t) {
  const auto v = t.to_vector<double>();
  const double n = static_cast<double>(v.size());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double squares = 0;
  for (const double x : v) squares += (x - mean) * (x - mean);
  return {*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()), mean,
          std::sqrt(squares / n)};
}

/// A raw [200, 100] weight: fan_in 100, fan_out 200.
std::shared_ptr<Parameter> weight() {
  return make_parameter(zeros({200, 100}, DType::f64));
}

/// U(-bound, bound): within the bounds, reaching near them, std bound / sqrt 3.
void check_uniform(const Tensor& t, double bound) {
  const Stats s = stats_of(t);
  CHECK(s.min >= -bound);
  CHECK(s.max <= bound);
  CHECK(s.max == Approx(bound).epsilon(0.01));
  CHECK(s.mean == Approx(0).margin(0.02 * bound));
  CHECK(s.std == Approx(bound / std::sqrt(3.0)).epsilon(0.02));
}

void check_normal(const Tensor& t, double mean, double std) {
  const Stats s = stats_of(t);
  CHECK(s.mean == Approx(mean).margin(0.02 * std));
  CHECK(s.std == Approx(std).epsilon(0.02));
}

/// The largest |entry| of a a^T - gain^2 I, for `a` with orthonormal rows times gain.
double row_orthogonality_error(const Tensor& a, double gain) {
  const Tensor gram = a.matmul(a.transpose(0, 1));
  return amax(abs(gram - eye(a.size(0), std::nullopt, a.dtype()) * (gain * gain))).item<double>();
}

}  // namespace

TEST_CASE("calculate_gain matches torch.nn.init.calculate_gain", "[nn][init]") {
  using nn::init::Nonlinearity;
  CHECK(nn::init::calculate_gain(Nonlinearity::linear) == 1);
  CHECK(nn::init::calculate_gain(Nonlinearity::sigmoid) == 1);
  CHECK(nn::init::calculate_gain(Nonlinearity::tanh) == Approx(5.0 / 3));
  CHECK(nn::init::calculate_gain(Nonlinearity::relu) == Approx(std::sqrt(2.0)));
  CHECK(nn::init::calculate_gain(Nonlinearity::leaky_relu, 0.2) == Approx(std::sqrt(2 / 1.04)));
}

TEST_CASE("uniform_, normal_ and constant_ draw what they say", "[nn][init]") {
  manual_seed(11);
  const auto w = weight();
  nn::init::uniform_(*w, 1, 3);
  const Stats s = stats_of(w->value());
  CHECK(s.min >= 1);
  CHECK(s.max < 3);
  CHECK(s.mean == Approx(2).epsilon(0.01));
  nn::init::normal_(*w, 1, 0.5);
  check_normal(w->value(), 1, 0.5);
  nn::init::constant_(*w, 0.25);
  CHECK(stats_of(w->value()).min == 0.25);
  CHECK(stats_of(w->value()).max == 0.25);
  nn::init::ones_(*w);
  CHECK(stats_of(w->value()).min == 1);
  nn::init::zeros_(*w);
  CHECK(stats_of(w->value()).max == 0);
}

TEST_CASE("xavier initialisers scale by fan_in + fan_out and gain", "[nn][init]") {
  manual_seed(12);
  const auto w = weight();
  nn::init::xavier_uniform_(*w);
  check_uniform(w->value(), std::sqrt(6.0 / 300));
  nn::init::xavier_normal_(*w, 2);
  check_normal(w->value(), 0, 2 * std::sqrt(2.0 / 300));
}

TEST_CASE("kaiming initialisers scale by the chosen fan and nonlinearity", "[nn][init]") {
  using nn::init::FanMode, nn::init::Nonlinearity;
  manual_seed(13);
  const auto w = weight();
  nn::init::kaiming_uniform_(*w);  // leaky_relu with a = 0: gain sqrt 2
  check_uniform(w->value(), std::sqrt(6.0 / 100));
  nn::init::kaiming_normal_(*w, 0, FanMode::fan_out, Nonlinearity::relu);
  check_normal(w->value(), 0, std::sqrt(2.0 / 200));
  nn::init::kaiming_normal_(*w, 0, FanMode::fan_in, Nonlinearity::linear);
  check_normal(w->value(), 0, 0.1);
  // A convolution kernel [8, 4, 5, 5]: fan_in 4 * 25, fan_out 8 * 25.
  const auto kernel = make_parameter(zeros({80, 40, 5, 5}, DType::f64));
  nn::init::kaiming_uniform_(*kernel, 1, FanMode::fan_out);  // gain sqrt(2 / 2) = 1
  check_uniform(kernel->value(), std::sqrt(3.0 / 2000));
}

TEST_CASE("orthogonal_ gives orthonormal rows or columns times gain", "[nn][init]") {
  manual_seed(14);
  const auto wide = make_parameter(zeros({3, 5}, DType::f64));
  nn::init::orthogonal_(*wide, 2);
  CHECK(row_orthogonality_error(wide->value(), 2) < 1e-12);
  const auto tall = make_parameter(zeros({5, 3}));
  nn::init::orthogonal_(*tall);
  CHECK(tall->value().dtype() == DType::f32);
  CHECK(row_orthogonality_error(tall->value().transpose(0, 1), 1) < 1e-6);
  const auto kernel = make_parameter(zeros({2, 3, 2}, DType::f64));
  nn::init::orthogonal_(*kernel);
  CHECK(row_orthogonality_error(kernel->value().reshape({2, 6}), 1) < 1e-12);
}

TEST_CASE("init writes a raw parameter's leaf in place, outside the graph", "[nn][init]") {
  nn::Linear layer(100, 200);
  const Tensor leaf = layer.weight->value();
  nn::init::constant_(*layer.weight, 0.5);
  CHECK(layer.weight->value().impl() == leaf.impl());
  CHECK(stats_of(leaf).min == 0.5);
  CHECK(leaf.requires_grad());
  CHECK(leaf.is_leaf());
}

TEST_CASE("init on a spectrally normalised weight lands in its raw tensor", "[nn][init]") {
  manual_seed(15);
  nn::Linear layer(6, 4, true, DType::f64);
  layer.weight = spectrally_normalize(layer.weight);
  nn::init::constant_(*layer.weight, 1);
  // The raw tensor is all ones, whose largest singular value is sqrt(4 * 6).
  const auto& computed = dynamic_cast<ComputedParameter&>(*layer.weight);
  CHECK(stats_of(computed.raw_inputs()[0]).min == 1);
  CHECK(stats_of(layer.weight->value()).max == Approx(1 / std::sqrt(24.0)).epsilon(1e-3));
  // An orthogonal matrix has all singular values 1: spectral norm keeps it.
  nn::init::orthogonal_(*layer.weight);
  CHECK(row_orthogonality_error(layer.weight->value(), 1) < 1e-3);
}

TEST_CASE("init on a projected weight is projected at the next use", "[nn][init]") {
  const auto w = project_non_negative(make_parameter(zeros({50, 50}, DType::f64)));
  nn::init::normal_(*w);
  CHECK(stats_of(w->value()).min == 0);
  CHECK(stats_of(w->value()).max > 1);
}

TEST_CASE("init on a constraint without right_inverse initialises its raw input", "[nn][init]") {
  const auto positive =
      constrain(make_parameter(ones({2, 2})),
                make_constraint("exp", [](const Tensor& raw) { return exp(raw); }));
  manual_seed(16);
  nn::init::xavier_uniform_(*positive);
  const Tensor raw = dynamic_cast<ComputedParameter&>(*positive).raw_inputs()[0];
  CHECK(stats_of(raw).max < 1);
  CHECK(stats_of(positive->value() - exp(raw)).max == 0);
}

TEST_CASE("init names itself and the shape in its errors", "[nn][init]") {
  const auto vector = make_parameter(zeros({3}));
  CHECK_THROWS_WITH(nn::init::kaiming_normal_(*vector),
                    "init::kaiming_normal_: expected a weight of at least 2 dims, got [3]");
  CHECK_THROWS_AS(nn::init::orthogonal_(*vector), ValueError);
}
