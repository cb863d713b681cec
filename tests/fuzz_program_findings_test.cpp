// The program fuzzer's findings (fuzz/program.h), one test per class of bug;
// the inputs that found them are in tests/data/program_corpus/, named for
// what they found, and replayed by fuzz_program_corpus_test.cpp. Expected values
// are torch 1.13's where torch defines them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <vector>

#include "tether/tether.h"

namespace tether {
namespace {

using Catch::Matchers::Contains;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

std::vector<std::int64_t> integers(const Tensor& t) {
  return t.to_vector<std::int64_t>();
}

/// Whether a and b agree elementwise within `tolerance`.
bool close(const Tensor& a, const Tensor& b, double tolerance) {
  return (a.detach() - b.detach()).abs().amax().item<double>() <= tolerance;
}

Tensor i64(std::vector<double> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  return tensor(values, {n}, DType::i64);
}

TEST_CASE(
    "a factory or fill_ given NaN, an infinity or a value beyond int64 for an i64 tensor "
    "throws a ValueError naming it and the value",
    "[fuzz-findings]") {
  CHECK_THROWS_AS(full({2}, kNaN, DType::i64), ValueError);
  CHECK_THROWS_WITH(full({2}, kNaN, DType::i64), Contains("full") && Contains("nan"));
  CHECK_THROWS_WITH(scalar_tensor(kInf, DType::i64), Contains("scalar_tensor") && Contains("inf"));
  CHECK_THROWS_WITH(linspace(kNaN, kNaN, 5, DType::i64), Contains("linspace") && Contains("nan"));
  CHECK_THROWS_WITH(linspace(0, 1e30, 2, DType::i64), Contains("linspace") && Contains("1e+30"));
  CHECK_THROWS_WITH(tensor({1.0, -1e19}, {2}, DType::i64),
                    Contains("tensor") && Contains("-1e+19"));
  Tensor t = zeros({2}, DType::i64);
  CHECK_THROWS_AS(t.fill_(-kInf), ValueError);
  CHECK(integers(t) == std::vector<std::int64_t>{0, 0});
  CHECK_THROWS_WITH(arange(kNaN), Contains("arange") && Contains("nan"));
  CHECK_THROWS_WITH(arange(1e30), Contains("arange") && Contains("1e+30"));
  // What an i64 can hold still converts: a fraction truncates, as in torch.
  CHECK(integers(full({2}, 2.5, DType::i64)) == std::vector<std::int64_t>{2, 2});
  CHECK(integers(full({1}, -0x1p63, DType::i64)) == std::vector<std::int64_t>{kMin});
  // An integer operand beyond 2^53 reaches a kernel as the double 2^63.
  CHECK(integers(i64({1, 2}) < kMax) == std::vector<std::int64_t>{1, 1});
}

TEST_CASE(
    "to(i64), copy_ and item of NaN, infinities and values beyond int64 saturate, NaN to "
    "INT64_MIN as torch gives on x86",
    "[fuzz-findings]") {
  const Tensor x = tensor({kNaN, kInf, -kInf, 1e30, -1e30, 2.9, -2.9}, {7}, DType::f64);
  const std::vector<std::int64_t> expected{kMin, kMax, kMin, kMax, kMin, 2, -2};
  CHECK(integers(x.to(DType::i64)) == expected);
  CHECK(integers(x.to(DType::f32).to(DType::i64)) == expected);
  Tensor target = zeros({7}, DType::i64);
  target.copy_(x);
  CHECK(integers(target) == expected);
  CHECK(full({1}, kNaN).item<std::int64_t>() == kMin);
}

TEST_CASE(
    "i64 add, sub, mul, neg, abs, sum and scalar arithmetic wrap around on overflow, as in "
    "PyTorch",
    "[fuzz-findings]") {
  // The finding: 4e18 * 4.
  CHECK(integers(full({1}, 4e18, DType::i64) * full({1}, 4.0, DType::i64)) ==
        std::vector<std::int64_t>{-2446744073709551616});
  const Tensor big = full({3}, 0x1p63, DType::i64);  // INT64_MAX
  const Tensor small = full({3}, -0x1p63, DType::i64);
  CHECK(integers(big + ones({3}, DType::i64)) == std::vector<std::int64_t>(3, kMin));
  CHECK(integers(small - ones({1}, DType::i64)) == std::vector<std::int64_t>(3, kMax));
  CHECK(integers(-small) == std::vector<std::int64_t>(3, kMin));
  CHECK(integers(abs(small)) == std::vector<std::int64_t>(3, kMin));
  CHECK(integers(big * 2) == std::vector<std::int64_t>(3, -2));
  CHECK(integers(big + 1) == std::vector<std::int64_t>(3, kMin));
  // Sums over every layout the kernel folds: all elements, the last dim, the first.
  const Tensor quarter = full({2, 2}, 0x1p62, DType::i64);
  CHECK(integers(quarter.sum()) == std::vector<std::int64_t>{0});
  CHECK(integers(quarter.sum({1})) == std::vector<std::int64_t>{kMin, kMin});
  CHECK(integers(quarter.sum({0})) == std::vector<std::int64_t>{kMin, kMin});
}

TEST_CASE("index_select and gather treat a 0-d input as one element along one dimension",
          "[fuzz-findings]") {
  const Tensor x = scalar_tensor(1.5, TensorOptions().with_requires_grad());
  // The finding: an empty index wrote a copy of negative size.
  CHECK_THROWS_AS(x.index_select(-1, zeros({0}, DType::i64)), IndexError);
  CHECK_THROWS_WITH(x.index_select(0, i64({0, 0})), Contains("index_select") && Contains("2"));
  CHECK_THROWS_AS(x.index_select(0, i64({1})), IndexError);
  const Tensor picked = x.index_select(0, i64({0}));
  CHECK(picked.dim() == 0);
  CHECK(picked.item<double>() == 1.5);
  const Tensor gathered = x.gather(0, i64({0, 0}));
  CHECK(gathered.shape() == Shape{2});
  CHECK(gathered.to_vector<double>() == std::vector<double>{1.5, 1.5});
  CHECK(x.gather(-1, scalar_tensor(0, DType::i64)).item<double>() == 1.5);
  CHECK_THROWS_AS(x.gather(0, scalar_tensor(1, DType::i64)), IndexError);
  (picked + gathered.sum()).backward();
  CHECK(x.grad().item<double>() == 3.0);
  // A 0-d index into a 1-d input, likewise.
  CHECK(arange(4.0).gather(0, scalar_tensor(2, DType::i64)).item<double>() == 2.0);
}

TEST_CASE("narrow, slice and select check their ranges without overflowing and refuse a 0-d input",
          "[fuzz-findings]") {
  const Tensor x = arange(4.0, TensorOptions().with_requires_grad());
  // The finding: start + length overflowed.
  CHECK_THROWS_AS(x.narrow(0, kMax, 5), IndexError);
  CHECK_THROWS_WITH(x.narrow(0, kMax, 5), Contains("narrow") && Contains("9223372036854775807"));
  CHECK_THROWS_AS(x.narrow(0, 2, kMax), IndexError);
  CHECK_THROWS_AS(x.narrow(0, kMin, 1), IndexError);
  // A huge step takes the first element only; its stride and its gradient's end stay in range.
  const Tensor first = slice(x, 0, 1, kMax, kMax);
  CHECK(first.to_vector<double>() == std::vector<double>{1.0});
  CHECK(slice(x, 0, 0, 4, 3).to_vector<double>() == std::vector<double>{0.0, 3.0});
  CHECK(slice(x, 0, kMin, kMax).to_vector<double>() == std::vector<double>{0, 1, 2, 3});
  first.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 0, 0});
  const Tensor s = scalar_tensor(1.0);
  CHECK_THROWS_WITH(s.narrow(0, 0, 0), Contains("narrow") && Contains("0-d"));
  CHECK_THROWS_AS(slice(s, 0, 0, 1), IndexError);
  CHECK_THROWS_AS(s.select(0, 0), IndexError);
}

TEST_CASE(
    "assign(value()) of a chain whose second link picks an intermediate value the first "
    "cannot give throws a ValueError naming that pick, and leaves the value",
    "[fuzz-findings]") {
  manual_seed(0);
  auto parameter = constrain(make_parameter(randn({3, 3})),
                             chain(constraints::symmetric(), constraints::lower_triangular()));
  const Tensor value = parameter->value().detach().clone();
  CHECK_THROWS_AS(parameter->assign(value), ValueError);
  CHECK_THROWS_WITH(parameter->assign(value),
                    Contains("symmetric+lower_triangular") &&
                        Contains("lower_triangular's right_inverse picks") &&
                        Contains("symmetric: cannot hold"));
  CHECK(close(parameter->value(), value, 0.0));
  // A chain whose links agree holds its own value.
  auto agreeing = constrain(make_parameter(randn({3, 3})),
                            chain(constraints::symmetric(), constraints::bounded(-1, 1)));
  const Tensor held = agreeing->value().detach().clone();
  agreeing->assign(held);
  CHECK(close(agreeing->value(), held, 1e-5));
}

TEST_CASE("weight_norm and spectral_norm of a zero weight give zero, not NaN, in f32 and f64",
          "[fuzz-findings]") {
  for (const DType dtype : {DType::f32, DType::f64}) {
    INFO(dtype);
    const Tensor zero = zeros({3, 3}, dtype);
    auto normalized = spectrally_normalize(make_parameter(zero.clone()));
    CHECK(normalized->value().to_vector<double>() == std::vector<double>(9, 0.0));
    // right_inverse of a zero weight gives v = 1; an optimizer can still make v zero.
    auto weight_normed = constrain(make_parameter(zero.clone()), constraints::weight_norm());
    {
      NoGradGuard no_grad;
      weight_normed->trainables().at(1).second.zero_();
    }
    const Tensor value = weight_normed->value();
    CHECK(value.to_vector<double>() == std::vector<double>(9, 0.0));
    value.sum().backward();
    for (const auto& [name, raw] : weight_normed->trainables()) {
      INFO(name);
      for (double g : raw.grad().to_vector<double>()) CHECK(std::isfinite(g));
    }
  }
}

TEST_CASE(
    "a shape with a zero extent has no elements whatever its other extents, and a "
    "reduction that drops the zero throws a ShapeError",
    "[fuzz-findings]") {
  constexpr std::int64_t huge = std::int64_t{1} << 62;
  // The finding: [2, 2^62, 0], whose count 2 * 2^62 * 0 overflowed on the way.
  const Tensor t = ones({2, huge, 0});
  CHECK(t.numel() == 0);
  CHECK(t.sum().item<double>() == 0.0);
  CHECK_THROWS_AS(t.sum({2}), ShapeError);
  const Tensor u = zeros({0, huge, 4});
  CHECK(u.numel() == 0);
  CHECK(u.transpose(0, 2).contiguous().shape() == Shape{4, huge, 0});
  CHECK_THROWS_AS(u.amax({0}), ShapeError);
  // The finding: [0, 2^63 - 1, 2], whose strides and merged rows overflowed.
  const Tensor v = zeros({0, kMax, 2});
  CHECK(v.is_contiguous());
  CHECK((v + 1.0).numel() == 0);
  CHECK(v.flatten(0, 2).shape() == Shape{0});
  CHECK_THROWS_AS(v.flatten(1, 2), ShapeError);
  std::ostringstream printed;
  CHECK_NOTHROW(printed << v);
  // The finding: the diagonal of [0, 0, 2^63 - 1] summed strides beyond int64.
  const Tensor w = rand({0, 0, kMax});
  CHECK(diagonal(w, 3).shape() == Shape{0, 0});
  CHECK(diagonal(zeros({0, 3, 3}), 1).shape() == Shape{0, 2});
}

TEST_CASE(
    "a constraint or projection made with a NaN, infinite or out-of-range number throws a "
    "ValueError naming it and the argument",
    "[fuzz-findings]") {
  using constraints::PositiveMap;
  // The finding: positive(exp, NaN) turned every value into NaN.
  CHECK_THROWS_WITH(constraints::positive(PositiveMap::exp, kNaN),
                    Contains("positive") && Contains("lower_bound") && Contains("nan"));
  CHECK_THROWS_WITH(constraints::positive(PositiveMap::softplus, kInf), Contains("lower_bound"));
  CHECK_THROWS_WITH(constraints::bounded(kNaN, 1), Contains("bounded") && Contains("lo"));
  CHECK_THROWS_WITH(constraints::bounded(0, kInf), Contains("bounded") && Contains("hi"));
  CHECK_THROWS_WITH(constraints::bounded(-1e308, 1e308), Contains("hi - lo"));
  CHECK_THROWS_WITH(constraints::bounded(1, 1), Contains("hi - lo"));
  CHECK_THROWS_WITH(constraints::positive_definite(kNaN), Contains("positive_definite"));
  CHECK_THROWS_WITH(constraints::positive_definite(-1), Contains("eps >= 0"));
  const Tensor weight = randn({3, 3});
  CHECK_THROWS_WITH(constraints::spectral_norm(weight, 0, 1, 0.0),
                    Contains("spectral_norm") && Contains("eps"));
  CHECK_THROWS_WITH(project_clamp(make_parameter(weight.clone()), kNaN, 1),
                    Contains("project_clamp"));
  CHECK_THROWS_WITH(project_max_norm(make_parameter(weight.clone()), 0.0),
                    Contains("project_max_norm") && Contains("max_norm"));
  // An infinite clamp bound leaves its side open.
  const auto clamped = project_clamp(make_parameter(full({2}, 5.0)), -kInf, kInf);
  CHECK(clamped->value().to_vector<double>() == std::vector<double>{5, 5});
}

}  // namespace
}  // namespace tether
