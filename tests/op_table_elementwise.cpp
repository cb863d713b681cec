// Op table: element-wise ops (autograd/src/ops/elementwise.cpp). Unary ops and
// tensor-scalar operators are checked against the C++ standard library on one
// [2, 3] tensor; binary ops on hand-computed broadcasts of
//   a [2, 1] = [[1], [2]]  and  b [3] = [4, -2, 0.5].
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "op_table.h"

namespace tether::op_table {

namespace {

const Shape kShape = {2, 3};

/// The values an entry is checked on, and the random inputs of its gradient checks.
struct Domain {
  std::vector<double> values;
  std::function<Inputs()> grad_inputs;
};

const std::vector<double> kMixedValues = {-1.5, -0.3, 0.2, 0.7, 1.0, 2.5};
const Domain kMixed = {kMixedValues, random_inputs({kShape})};
const Domain kPositive = {{0.25, 0.5, 1.0, 2.0, 3.5, 10.0},
                          [] { return Inputs{positive(kShape)}; }};

/// Mixed values, and random inputs at least 0.1 away from each kink.
Domain away_from(std::vector<double> kinks) {
  return {kMixedValues, [kinks] { return Inputs{rnd(kShape, kinks)}; }};
}

/// An op of one [2, 3] tensor, expected to equal `reference` element by element.
struct UnaryCase {
  std::string op;
  std::string variant = "[2, 3]";
  GradcheckFunction f;
  std::function<double(double)> reference;
  Domain domain = kMixed;

  OpCase to_case() const {
    return {.op = op,
            .variant = variant,
            .f = f,
            .value_inputs = {t(domain.values, kShape)},
            .expected = t(map(domain.values, reference), kShape),
            .grad_inputs = domain.grad_inputs};
  }
};

/// f applied to the only input.
GradcheckFunction apply(Tensor (*op)(const Tensor&)) {
  return [op](const Inputs& x) { return op(x[0]); };
}

double sigmoid_of(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

std::vector<UnaryCase> unary_cases() {
  return {
      {.op = "affine",
       .variant = "scale 2, shift -1",
       .f = [](const Inputs& x) { return affine(x[0], 2.0, -1.0); },
       .reference = [](double v) { return 2.0 * v - 1.0; }},
      {.op = "neg", .f = apply(neg), .reference = [](double v) { return -v; }},
      {.op = "neg",
       .variant = "unary operator-",
       .f = [](const Inputs& x) { return -x[0]; },
       .reference = [](double v) { return -v; }},
      {.op = "reciprocal",
       .f = apply(reciprocal),
       .reference = [](double v) { return 1.0 / v; },
       .domain = away_from({0.0})},
      {.op = "pow",
       .variant = "exponent 2",
       .f = [](const Inputs& x) { return pow(x[0], 2.0); },
       .reference = [](double v) { return v * v; }},
      {.op = "pow",
       .variant = "exponent 3 (odd, of negatives too)",
       .f = [](const Inputs& x) { return pow(x[0], 3.0); },
       .reference = [](double v) { return v * v * v; }},
      {.op = "pow",
       .variant = "exponent 0.5",
       .f = [](const Inputs& x) { return pow(x[0], 0.5); },
       .reference = [](double v) { return std::sqrt(v); },
       .domain = kPositive},
      {.op = "pow",
       .variant = "exponent -1.5",
       .f = [](const Inputs& x) { return pow(x[0], -1.5); },
       .reference = [](double v) { return std::pow(v, -1.5); },
       .domain = kPositive},
      {.op = "pow",
       .variant = "exponent 0",
       .f = [](const Inputs& x) { return pow(x[0], 0.0); },
       .reference = [](double) { return 1.0; }},
      {.op = "exp", .f = apply(exp), .reference = [](double v) { return std::exp(v); }},
      {.op = "log",
       .f = apply(log),
       .reference = [](double v) { return std::log(v); },
       .domain = kPositive},
      {.op = "log1p",
       .variant = "values above -1 and near 0",
       .f = apply(log1p),
       .reference = [](double v) { return std::log1p(v); },
       .domain = {{-0.9, -0.5, 1e-10, 0.5, 2.0, 10.0}, kPositive.grad_inputs}},
      {.op = "sqrt",
       .f = apply(sqrt),
       .reference = [](double v) { return std::sqrt(v); },
       .domain = kPositive},
      {.op = "rsqrt",
       .f = apply(rsqrt),
       .reference = [](double v) { return 1.0 / std::sqrt(v); },
       .domain = kPositive},
      {.op = "abs",
       .f = apply(abs),
       .reference = [](double v) { return std::abs(v); },
       .domain = away_from({0.0})},
      // Piecewise constant: its gradient is zero (PyTorch's), checked where it exists.
      {.op = "sign",
       .f = apply(sign),
       .reference = [](double v) { return static_cast<double>((v > 0.0) - (v < 0.0)); },
       .domain = away_from({0.0})},
      {.op = "sin", .f = apply(sin), .reference = [](double v) { return std::sin(v); }},
      {.op = "cos", .f = apply(cos), .reference = [](double v) { return std::cos(v); }},
      {.op = "tanh", .f = apply(tanh), .reference = [](double v) { return std::tanh(v); }},
      {.op = "sigmoid", .f = apply(sigmoid), .reference = sigmoid_of},
      {.op = "erf", .f = apply(erf), .reference = [](double v) { return std::erf(v); }},
      {.op = "relu",
       .f = apply(relu),
       .reference = [](double v) { return std::max(v, 0.0); },
       .domain = away_from({0.0})},
      {.op = "leaky_relu",
       .variant = "default slope 0.01",
       .f = [](const Inputs& x) { return leaky_relu(x[0]); },
       .reference = [](double v) { return v > 0.0 ? v : 0.01 * v; },
       .domain = away_from({0.0})},
      {.op = "leaky_relu",
       .variant = "slope 0.2",
       .f = [](const Inputs& x) { return leaky_relu(x[0], 0.2); },
       .reference = [](double v) { return v > 0.0 ? v : 0.2 * v; },
       .domain = away_from({0.0})},
      {.op = "gelu",
       .f = apply(gelu),
       .reference = [](double v) { return 0.5 * v * (1.0 + std::erf(v / std::numbers::sqrt2)); }},
      {.op = "softplus",
       .variant = "|x| up to 100 without overflow",
       .f = apply(softplus),
       .reference = [](double v) { return std::log1p(std::exp(v)); },
       .domain = {{-100.0, -1.5, -0.3, 0.7, 2.5, 100.0}, kMixed.grad_inputs}},
      {.op = "clamp",
       .variant = "min -0.5, max 0.5",
       .f = [](const Inputs& x) { return clamp(x[0], -0.5, 0.5); },
       .reference = [](double v) { return std::clamp(v, -0.5, 0.5); },
       .domain = away_from({-0.5, 0.5})},
      {.op = "clamp",
       .variant = "min only",
       .f = [](const Inputs& x) { return clamp(x[0], 0.0, std::nullopt); },
       .reference = [](double v) { return std::max(v, 0.0); },
       .domain = away_from({0.0})},
      {.op = "clamp",
       .variant = "max only",
       .f = [](const Inputs& x) { return clamp(x[0], std::nullopt, 0.5); },
       .reference = [](double v) { return std::min(v, 0.5); },
       .domain = away_from({0.5})},
      {.op = "add",
       .variant = "tensor + scalar",
       .f = [](const Inputs& x) { return x[0] + 2.0; },
       .reference = [](double v) { return v + 2.0; }},
      {.op = "add",
       .variant = "scalar + tensor",
       .f = [](const Inputs& x) { return 2.0 + x[0]; },
       .reference = [](double v) { return 2.0 + v; }},
      {.op = "add",
       .variant = "the same tensor twice",
       .f = [](const Inputs& x) { return add(x[0], x[0]); },
       .reference = [](double v) { return 2.0 * v; }},
      {.op = "sub",
       .variant = "tensor - scalar",
       .f = [](const Inputs& x) { return x[0] - 2.0; },
       .reference = [](double v) { return v - 2.0; }},
      {.op = "sub",
       .variant = "scalar - tensor",
       .f = [](const Inputs& x) { return 2.0 - x[0]; },
       .reference = [](double v) { return 2.0 - v; }},
      {.op = "mul",
       .variant = "tensor * scalar",
       .f = [](const Inputs& x) { return x[0] * -3.0; },
       .reference = [](double v) { return v * -3.0; }},
      {.op = "mul",
       .variant = "scalar * tensor",
       .f = [](const Inputs& x) { return -3.0 * x[0]; },
       .reference = [](double v) { return -3.0 * v; }},
      {.op = "mul",
       .variant = "the same tensor twice",
       .f = [](const Inputs& x) { return mul(x[0], x[0]); },
       .reference = [](double v) { return v * v; }},
      {.op = "div",
       .variant = "tensor / scalar",
       .f = [](const Inputs& x) { return x[0] / 4.0; },
       .reference = [](double v) { return v / 4.0; }},
      {.op = "div",
       .variant = "scalar / tensor",
       .f = [](const Inputs& x) { return 3.0 / x[0]; },
       .reference = [](double v) { return 3.0 / v; },
       .domain = away_from({0.0})},
  };
}

const Shape kA = {2, 1}, kB = {3};
const auto kRandomAB = random_inputs({kA, kB});

/// An op of a [2, 1] = [[1], [2]] and b [3] = [4, -2, 0.5], broadcast to [2, 3].
struct BroadcastCase {
  std::string op;
  std::string variant = "broadcast [2, 1] with [3]";
  GradcheckFunction f;
  std::vector<double> expected;
  std::function<Inputs()> grad_inputs = kRandomAB;

  OpCase to_case() const {
    return {.op = op,
            .variant = variant,
            .f = f,
            .value_inputs = {t({1.0, 2.0}, kA), t({4.0, -2.0, 0.5}, kB)},
            .expected = t(expected, kShape),
            .grad_inputs = grad_inputs};
  }
};

std::vector<BroadcastCase> broadcast_cases() {
  return {
      {.op = "add",
       .f = [](const Inputs& x) { return add(x[0], x[1]); },
       .expected = {5.0, -1.0, 1.5, 6.0, 0.0, 2.5}},
      {.op = "add",
       .variant = "operator+ on tensors",
       .f = [](const Inputs& x) { return x[0] + x[1]; },
       .expected = {5.0, -1.0, 1.5, 6.0, 0.0, 2.5}},
      {.op = "sub",
       .f = [](const Inputs& x) { return sub(x[0], x[1]); },
       .expected = {-3.0, 3.0, 0.5, -2.0, 4.0, 1.5}},
      {.op = "sub",
       .variant = "operator- on tensors, [3] - [2, 1]",
       .f = [](const Inputs& x) { return x[1] - x[0]; },
       .expected = {3.0, -3.0, -0.5, 2.0, -4.0, -1.5}},
      {.op = "mul",
       .f = [](const Inputs& x) { return mul(x[0], x[1]); },
       .expected = {4.0, -2.0, 0.5, 8.0, -4.0, 1.0}},
      {.op = "mul",
       .variant = "operator* on tensors",
       .f = [](const Inputs& x) { return x[0] * x[1]; },
       .expected = {4.0, -2.0, 0.5, 8.0, -4.0, 1.0}},
      {.op = "div",
       .f = [](const Inputs& x) { return div(x[0], x[1]); },
       .expected = {0.25, -0.5, 2.0, 0.5, -1.0, 4.0},
       .grad_inputs =
           [] {
             return Inputs{rnd(kA), rnd(kB, {0.0})};
           }},
      {.op = "div",
       .variant = "operator/ on tensors, [3] / [2, 1]",
       .f = [](const Inputs& x) { return x[1] / x[0]; },
       .expected = {4.0, -2.0, 0.5, 2.0, -1.0, 0.25},
       .grad_inputs =
           [] {
             return Inputs{rnd(kA, {0.0}), rnd(kB)};
           }},
      {.op = "pow",
       .variant = "tensor exponent, broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return pow(x[0], x[1]); },
       .expected = {1.0, 1.0, 1.0, 16.0, 0.25, std::numbers::sqrt2},
       .grad_inputs =
           [] {
             return Inputs{positive(kA), rnd(kB)};
           }},
      {.op = "maximum",
       .f = [](const Inputs& x) { return maximum(x[0], x[1]); },
       .expected = {4.0, 1.0, 1.0, 4.0, 2.0, 2.0}},
      {.op = "minimum",
       .f = [](const Inputs& x) { return minimum(x[0], x[1]); },
       .expected = {1.0, -2.0, 0.5, 2.0, -2.0, 0.5}},
      {.op = "where",
       .variant = "condition [2, 1] = [[true], [false]], a [2, 1], b [3]",
       .f =
           [](const Inputs& x) {
             return where(t({1.0, 0.0}, {2, 1}) > 0.0, x[0], x[1]);
           },
       .expected = {1.0, 1.0, 1.0, 4.0, -2.0, 0.5}},
  };
}

// Special functions (ops.h's section of that name). digamma and polygamma have
// no std:: function: their entries take points where closed forms are known
// (Gauss's digamma theorem, psi'(1/2) = pi^2/2, psi''(1) = -2 zeta(3), ...)
// and the recurrences psi^(n)(x + 1) = psi^(n)(x) + (-1)^n n! / x^(n+1).

constexpr double kEulerGamma = 0.57721566490153286061;
constexpr double kZeta3 = 1.20205690315959428540;  // Apery's constant
constexpr double kCatalan = 0.91596559417721901505;
const std::vector<double> kPolygammaPoints = {-0.5, 0.25, 0.5, 1.0, 1.5, 2.0};

/// The reference of an entry over kPolygammaPoints: `values` at those points, in order.
std::function<double(double)> at_polygamma_points(std::vector<double> values) {
  return [values](double v) {
    const auto at = std::find(kPolygammaPoints.begin(), kPolygammaPoints.end(), v);
    return values.at(static_cast<std::size_t>(at - kPolygammaPoints.begin()));
  };
}

/// log Phi(v) from the standard library, by Phi(v) = 1 - Phi(-v) for v > 0.
double log_normal_cdf(double v) {
  return v > 0.0 ? std::log1p(-0.5 * std::erfc(v / std::numbers::sqrt2))
                 : std::log(0.5 * std::erfc(-v / std::numbers::sqrt2));
}

const std::vector<double> kErfinvPoints = {-0.9, -0.5, 0.0, 0.3, 0.7, 0.99};

/// erfinv's reference: the point of kErfinvPoints whose erf is v.
double erf_preimage(double v) {
  const auto at = std::find_if(kErfinvPoints.begin(), kErfinvPoints.end(),
                               [v](double x) { return std::erf(x) == v; });
  return at == kErfinvPoints.end() ? NAN : *at;
}

std::vector<UnaryCase> special_function_cases() {
  using std::numbers::ln2, std::numbers::pi;
  const Domain polygamma_domain = {kPolygammaPoints, kPositive.grad_inputs};
  const double psi_half = -kEulerGamma - 2.0 * ln2;
  const auto digamma_reference =
      at_polygamma_points({psi_half + 2.0, -kEulerGamma - pi / 2.0 - 3.0 * ln2, psi_half,
                           -kEulerGamma, psi_half + 2.0, 1.0 - kEulerGamma});
  const double trigamma_half = pi * pi / 2.0, tetragamma_half = -14.0 * kZeta3;
  return {
      {.op = "lgamma",
       .variant = "[2, 3], negative non-integers too",
       .f = apply(lgamma),
       .reference = [](double v) { return std::lgamma(v); },
       .domain = away_from({-4.0, -3.0, -2.0, -1.0, 0.0})},
      {.op = "digamma",
       .variant = "closed forms at -1/2, 1/4, 1/2, 1, 3/2, 2",
       .f = apply(digamma),
       .reference = digamma_reference,
       .domain = polygamma_domain},
      {.op = "polygamma",
       .variant = "n = 1 (trigamma), closed forms",
       .f = [](const Inputs& x) { return polygamma(1, x[0]); },
       .reference =
           at_polygamma_points({trigamma_half + 4.0, pi * pi + 8.0 * kCatalan, trigamma_half,
                                pi * pi / 6.0, trigamma_half - 4.0, pi * pi / 6.0 - 1.0}),
       .domain = polygamma_domain},
      {.op = "polygamma",
       .variant = "n = 2, closed forms",
       .f = [](const Inputs& x) { return polygamma(2, x[0]); },
       .reference = at_polygamma_points(
           {tetragamma_half + 16.0, -2.0 * (28.0 * kZeta3 + pi * pi * pi), tetragamma_half,
            -2.0 * kZeta3, tetragamma_half + 16.0, 2.0 - 2.0 * kZeta3}),
       .domain = polygamma_domain},
      {.op = "polygamma",
       .variant = "n = 0 is digamma",
       .f = [](const Inputs& x) { return polygamma(0, x[0]); },
       .reference = digamma_reference,
       .domain = polygamma_domain},
      {.op = "erfc", .f = apply(erfc), .reference = [](double v) { return std::erfc(v); }},
      {.op = "erfc",
       .variant = "tail values down to 1e-45",
       .f = apply(erfc),
       .reference = [](double v) { return std::erfc(v); },
       .domain = {{-3.0, 0.0, 2.0, 5.0, 8.0, 10.0}, kMixed.grad_inputs}},
      {.op = "log_ndtr",
       .variant = "both tails: -30 to 10",
       .f = apply(log_ndtr),
       .reference = log_normal_cdf,
       .domain = {{-30.0, -5.0, -1.5, 0.0, 2.5, 10.0}, kMixed.grad_inputs}},
      {.op = "expm1", .f = apply(expm1), .reference = [](double v) { return std::expm1(v); }},
      {.op = "atan", .f = apply(atan), .reference = [](double v) { return std::atan(v); }},
      {.op = "erfinv",
       .variant = "[2, 3] in (-1, 1), against erf",
       .f = apply(erfinv),
       .reference = erf_preimage,
       .domain = {map(kErfinvPoints, [](double x) { return std::erf(x); }),
                  [] { return Inputs{(rand(kShape, DType::f64) * 1.6 - 0.8).requires_grad_()}; }}},
  };
}

std::vector<OpCase> xlogy_cases() {
  return {
      {.op = "xlogy",
       .variant = "[2, 3] with x == 0 at y == 0 and y < 0",
       .f = [](const Inputs& x) { return xlogy(x[0], x[1]); },
       .value_inputs = {t({0.0, 0.0, 2.0, -1.0, 0.5, 3.0}, kShape),
                        t({0.0, -1.0, 0.5, 3.0, 4.0, 1.0}, kShape)},
       .expected =
           t({0.0, 0.0, 2.0 * std::log(0.5), -std::log(3.0), 0.5 * std::log(4.0), 0.0}, kShape),
       .grad_inputs =
           [] {
             return Inputs{rnd(kShape), positive(kShape)};
           }},
      {.op = "xlogy",
       .variant = "x [2, 1] broadcast with y [3]",
       .f = [](const Inputs& x) { return xlogy(x[0], x[1]); },
       .value_inputs = {t({1.0, 2.0}, {2, 1}), t({4.0, 0.5, 1.0}, {3})},
       .expected =
           t({std::log(4.0), std::log(0.5), 0.0, 2.0 * std::log(4.0), 2.0 * std::log(0.5), 0.0},
             kShape),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 1}), positive({3})};
           }},
  };
}

std::vector<OpCase> other_cases() {
  const Tensor mixed = t(kMixedValues, kShape);
  return {
      {.op = "add",
       .variant = "0-d with [2, 3]",
       .f = [](const Inputs& x) { return add(x[0], x[1]); },
       .value_inputs = {t({10.0}, {}), mixed},
       .expected = t({8.5, 9.7, 10.2, 10.7, 11.0, 12.5}, kShape),
       .grad_inputs = random_inputs({{}, kShape})},
      {.op = "maximum",
       .variant = "same shape",
       .f = [](const Inputs& x) { return maximum(x[0], x[1]); },
       .value_inputs = {mixed, t({0.0, 0.0, 0.0, 1.0, 1.0, 1.0}, kShape)},
       .expected = t({0.0, 0.0, 0.2, 1.0, 1.0, 2.5}, kShape),
       .grad_inputs = random_inputs({kShape, kShape})},
      {.op = "minimum",
       .variant = "same shape",
       .f = [](const Inputs& x) { return minimum(x[0], x[1]); },
       .value_inputs = {mixed, t({0.0, 0.0, 0.0, 1.0, 1.0, 1.0}, kShape)},
       .expected = t({-1.5, -0.3, 0.0, 0.7, 1.0, 1.0}, kShape),
       .grad_inputs = random_inputs({kShape, kShape})},
      {.op = "sigmoid",
       .variant = "of a transposed (non-contiguous) [3, 2]",
       .f = [](const Inputs& x) { return sigmoid(transpose(x[0], 0, 1)); },
       .value_inputs = {t({0.0, 1.0, -1.0, 2.0, 3.0, -2.0}, kShape)},
       .expected = t(map({0.0, 2.0, 1.0, 3.0, -1.0, -2.0}, sigmoid_of), {3, 2}),
       .grad_inputs = random_inputs({kShape})},
  };
}

}  // namespace

std::vector<OpCase> elementwise_cases() {
  std::vector<OpCase> cases;
  for (const auto& c : unary_cases()) cases.push_back(c.to_case());
  for (const auto& c : special_function_cases()) cases.push_back(c.to_case());
  for (auto& c : xlogy_cases()) cases.push_back(std::move(c));
  for (const auto& c : broadcast_cases()) cases.push_back(c.to_case());
  for (auto& c : other_cases()) cases.push_back(std::move(c));
  return cases;
}

}  // namespace tether::op_table
