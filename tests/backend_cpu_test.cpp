// The CPU backend's kernels on small hand-checked values, called directly
// (no autograd): contiguous, transposed and broadcast (stride 0) operands, every
// dtype a kernel supports, and the errors of the index kernels.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "tether/backend/backend.h"
#include "tether/error.h"

using tether::DType;
using tether::Shape;
using tether::Strides;
using tether::Tensor;
using namespace tether::backend;

namespace {

Backend& cpu() {
  return backend_for(tether::Device::cpu());
}

template <class T>
Tensor tensor(const Shape& shape, const std::vector<T>& values) {
  Tensor t = Tensor::empty(shape, tether::dtype_of<T>());
  REQUIRE(t.numel() == static_cast<std::int64_t>(values.size()));
  std::copy(values.begin(), values.end(), t.data_ptr<T>());
  return t;
}

/// The elements of any view in row-major order, read through its strides.
template <class T>
std::vector<T> values(const Tensor& t) {
  std::vector<T> out;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    std::int64_t rest = i, offset = 0;
    for (int d = t.dim() - 1; d >= 0; --d) {
      offset += rest % t.shape()[d] * t.strides()[d];
      rest /= t.shape()[d];
    }
    out.push_back(t.data_ptr<T>()[offset]);
  }
  return out;
}

Tensor transposed(const Tensor& t, int d0, int d1) {
  Shape shape = t.shape();
  Strides strides = t.strides();
  std::swap(shape[d0], shape[d1]);
  std::swap(strides[d0], strides[d1]);
  return Tensor::view_of(t, shape, strides, t.storage_offset());
}

/// `t` broadcast to `shape` (same rank): stride 0 on the extent-1 dimensions.
Tensor expanded(const Tensor& t, const Shape& shape) {
  Strides strides = t.strides();
  for (int d = 0; d < t.dim(); ++d)
    if (t.shape()[d] != shape[d]) strides[d] = 0;
  return Tensor::view_of(t, shape, strides, t.storage_offset());
}

template <class T>
Tensor iota(const Shape& shape, T start = T(0)) {
  std::vector<T> v(static_cast<std::size_t>(shape.numel()));
  for (auto& x : v) x = start++;
  return tensor<T>(shape, v);
}

using Doubles = std::vector<double>;
using Floats = std::vector<float>;
using Longs = std::vector<std::int64_t>;

}  // namespace

// ---- fill and copy ---------------------------------------------------------

TEST_CASE("fill writes every element of a strided view and nothing else") {
  Tensor base = tensor<std::int64_t>({2, 3}, {0, 0, 0, 0, 0, 0});
  Tensor first_column = Tensor::view_of(base, {2}, {3}, 0);
  cpu().fill(first_column, 7);
  CHECK(values<std::int64_t>(base) == Longs{7, 0, 0, 7, 0, 0});
  Tensor f = Tensor::empty({3}, DType::f32);
  cpu().fill(f, 0.5);
  CHECK(values<float>(f) == Floats{0.5f, 0.5f, 0.5f});
}

TEST_CASE("copy converts between dtypes") {
  Tensor d = tensor<double>({3}, {1.75, -2.5, 3.0});
  Tensor l = Tensor::empty({3}, DType::i64);
  cpu().copy(d, l);
  CHECK(values<std::int64_t>(l) == Longs{1, -2, 3});
  Tensor f = Tensor::empty({3}, DType::f32);
  cpu().copy(l, f);
  CHECK(values<float>(f) == Floats{1, -2, 3});
}

TEST_CASE("copy materialises a transposed source and writes a strided destination") {
  Tensor t = transposed(iota<float>({2, 3}), 0, 1);  // [[0, 3], [1, 4], [2, 5]]
  Tensor out = Tensor::empty({3, 2}, DType::f32);
  cpu().copy(t, out);
  CHECK(values<float>(out) == Floats{0, 3, 1, 4, 2, 5});
  Tensor wide = tensor<double>({2, 2}, {0, 0, 0, 0});
  cpu().copy(tensor<double>({2}, {8, 9}), Tensor::view_of(wide, {2}, {2}, 1));
  CHECK(values<double>(wide) == Doubles{0, 8, 0, 9});
}

TEST_CASE("copy broadcasts a source with fewer or extent-1 dimensions") {
  Tensor out = Tensor::empty({2, 3}, DType::f64);
  cpu().copy(tensor<double>({3}, {1, 2, 3}), out);
  CHECK(values<double>(out) == Doubles{1, 2, 3, 1, 2, 3});
  cpu().copy(tensor<double>({2, 1}, {4, 5}), out);
  CHECK(values<double>(out) == Doubles{4, 4, 4, 5, 5, 5});
  CHECK_THROWS_AS(cpu().copy(tensor<double>({2}, {1, 2}), out), tether::ShapeError);
}

// ---- unary -----------------------------------------------------------------

TEST_CASE("unary ops match their scalar definitions in f64 and f32") {
  struct Case {
    UnaryOp op;
    double (*reference)(double);
    bool positive_inputs = false;  // inputs made positive to stay in the op's domain
  };
  const Case cases[] = {
      {UnaryOp::neg, [](double x) { return -x; }},
      {UnaryOp::exp, [](double x) { return std::exp(x); }},
      {UnaryOp::log, [](double x) { return std::log(x); }, true},
      {UnaryOp::log1p, [](double x) { return std::log1p(x); }, true},
      {UnaryOp::sqrt, [](double x) { return std::sqrt(x); }, true},
      {UnaryOp::rsqrt, [](double x) { return 1 / std::sqrt(x); }, true},
      {UnaryOp::abs, [](double x) { return std::abs(x); }},
      {UnaryOp::sign, [](double x) { return double((x > 0) - (x < 0)); }},
      {UnaryOp::sin, [](double x) { return std::sin(x); }},
      {UnaryOp::cos, [](double x) { return std::cos(x); }},
      {UnaryOp::tanh, [](double x) { return std::tanh(x); }},
      {UnaryOp::sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {UnaryOp::relu, [](double x) { return x > 0 ? x : 0; }},
      {UnaryOp::erf, [](double x) { return std::erf(x); }},
      {UnaryOp::softplus, [](double x) { return std::log1p(std::exp(x)); }},
      {UnaryOp::reciprocal, [](double x) { return 1 / x; }},
  };
  for (const auto& c : cases) {
    INFO("op #" << static_cast<int>(c.op));
    Doubles in = {-2.5, -0.75, 0.5, 1.25, 3.0, -1.5, 0.25, 2.0, -3.5};
    if (c.positive_inputs)
      for (auto& x : in) x = std::abs(x);
    Tensor x64 = tensor<double>({9}, in), out64 = Tensor::empty({9}, DType::f64);
    Tensor x32 = Tensor::empty({9}, DType::f32), out32 = Tensor::empty({9}, DType::f32);
    cpu().copy(x64, x32);
    cpu().unary(c.op, x64, out64, {});
    cpu().unary(c.op, x32, out32, {});
    const auto result64 = values<double>(out64);
    const auto result32 = values<float>(out32);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const double expected = c.reference(in[i]);
      CHECK(result64[i] == Approx(expected).epsilon(1e-12).margin(1e-14));
      CHECK(result32[i] == Approx(expected).epsilon(1e-5).margin(1e-6));
    }
  }
}

TEST_CASE("parameterised unary ops use alpha and beta") {
  Tensor x = tensor<double>({4}, {-2, -0.5, 1.5, 3});
  Tensor out = Tensor::empty({4}, DType::f64);
  cpu().unary(UnaryOp::affine, x, out, {2, 1});
  CHECK(values<double>(out) == Doubles{-3, 0, 4, 7});
  cpu().unary(UnaryOp::pow, x, out, {2, 0});
  CHECK(values<double>(out) == Doubles{4, 0.25, 2.25, 9});
  cpu().unary(UnaryOp::pow, tensor<double>({2}, {4, 9}), Tensor::view_of(out, {2}, {1}, 0),
              {0.5, 0});
  CHECK(values<double>(out)[0] == Approx(2));
  CHECK(values<double>(out)[1] == Approx(3));
  cpu().unary(UnaryOp::clamp, x, out, {-1, 2});
  CHECK(values<double>(out) == Doubles{-1, -0.5, 1.5, 2});
  cpu().unary(UnaryOp::leaky_relu, x, out, {0.1, 0});
  CHECK(values<double>(out) == Doubles{-0.2, -0.05, 1.5, 3});
}

TEST_CASE("clamp accepts infinite bounds for floating and integer tensors") {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = tensor<float>({3}, {-5, 0, 5});
  Tensor out = Tensor::empty({3}, DType::f32);
  cpu().unary(UnaryOp::clamp, x, out, {-inf, 1});
  CHECK(values<float>(out) == Floats{-5, 0, 1});
  cpu().unary(UnaryOp::clamp, x, out, {-1, inf});
  CHECK(values<float>(out) == Floats{-1, 0, 5});
  Tensor l = tensor<std::int64_t>({3}, {-5, 0, 5});
  Tensor lout = Tensor::empty({3}, DType::i64);
  cpu().unary(UnaryOp::clamp, l, lout, {-inf, 2});
  CHECK(values<std::int64_t>(lout) == Longs{-5, 0, 2});
}

TEST_CASE("softplus does not overflow and sign of zero is zero") {
  Tensor x = tensor<float>({3}, {-1000, 0, 1000});
  Tensor out = Tensor::empty({3}, DType::f32);
  cpu().unary(UnaryOp::softplus, x, out, {});
  CHECK(values<float>(out)[0] == 0.0f);
  CHECK(values<float>(out)[1] == Approx(std::log(2.0)));
  CHECK(values<float>(out)[2] == 1000.0f);
  cpu().unary(UnaryOp::sign, x, out, {});
  CHECK(values<float>(out) == Floats{-1, 0, 1});
}

TEST_CASE("unary reads transposed and broadcast inputs") {
  Tensor out = Tensor::empty({3, 2}, DType::f64);
  cpu().unary(UnaryOp::neg, transposed(iota<double>({2, 3}), 0, 1), out, {});
  CHECK(values<double>(out) == Doubles{-0, -3, -1, -4, -2, -5});
  cpu().unary(UnaryOp::exp, expanded(tensor<double>({1, 1}, {0}), {3, 2}), out, {});
  CHECK(values<double>(out) == Doubles{1, 1, 1, 1, 1, 1});
}

TEST_CASE("unary integer ops work on i64 and floating-only ops refuse it") {
  Tensor x = tensor<std::int64_t>({3}, {-2, 0, 3});
  Tensor out = Tensor::empty({3}, DType::i64);
  cpu().unary(UnaryOp::abs, x, out, {});
  CHECK(values<std::int64_t>(out) == Longs{2, 0, 3});
  cpu().unary(UnaryOp::relu, x, out, {});
  CHECK(values<std::int64_t>(out) == Longs{0, 0, 3});
  CHECK_THROWS_AS(cpu().unary(UnaryOp::exp, x, out, {}), tether::DTypeError);
}

TEST_CASE("every unary op on i64 is refused when floating_only and else computed as on f64") {
  const Longs in = {-3, -1, 0, 2, 5};
  Tensor x = tensor<std::int64_t>({5}, in), out = Tensor::empty({5}, DType::i64);
  Tensor x64 = Tensor::empty({5}, DType::f64), out64 = Tensor::empty({5}, DType::f64);
  cpu().copy(x, x64);
  const UnaryParams params{-2, 3};  // integers, so that affine and clamp stay exact
  // erfinv is the last UnaryOp.
  for (int code = 0; code <= static_cast<int>(UnaryOp::erfinv); ++code) {
    const auto op = static_cast<UnaryOp>(code);
    INFO("op #" << code);
    if (floating_only(op)) {
      CHECK_THROWS_AS(cpu().unary(op, x, out, params), tether::DTypeError);
      continue;
    }
    cpu().unary(op, x, out, params);
    cpu().unary(op, x64, out64, params);
    Longs expected;
    for (double v : values<double>(out64)) expected.push_back(static_cast<std::int64_t>(v));
    CHECK(values<std::int64_t>(out) == expected);
  }
}

// ---- binary and where ------------------------------------------------------

TEST_CASE("binary add broadcasts a row over a matrix") {
  Tensor a = iota<float>({2, 3});
  Tensor row = expanded(tensor<float>({1, 3}, {10, 20, 30}), {2, 3});
  Tensor out = Tensor::empty({2, 3}, DType::f32);
  cpu().binary(BinaryOp::add, a, row, out);
  CHECK(values<float>(out) == Floats{10, 21, 32, 13, 24, 35});
  cpu().binary(BinaryOp::sub, row, a, out);
  CHECK(values<float>(out) == Floats{10, 19, 28, 7, 16, 25});
}

TEST_CASE("binary mul broadcasts a column and a scalar") {
  Tensor column = expanded(tensor<double>({2, 1}, {2, 3}), {2, 3});
  Tensor scalar = expanded(tensor<double>({1, 1}, {10}), {2, 3});
  Tensor out = Tensor::empty({2, 3}, DType::f64);
  cpu().binary(BinaryOp::mul, iota<double>({2, 3}), column, out);
  CHECK(values<double>(out) == Doubles{0, 2, 4, 9, 12, 15});
  cpu().binary(BinaryOp::mul, scalar, column, out);
  CHECK(values<double>(out) == Doubles{20, 20, 20, 30, 30, 30});
}

TEST_CASE("binary reads two transposed operands") {
  Tensor a = transposed(iota<std::int64_t>({3, 2}), 0, 1);     // [[0, 2, 4], [1, 3, 5]]
  Tensor b = transposed(iota<std::int64_t>({3, 2}, 6), 0, 1);  // [[6, 8, 10], [7, 9, 11]]
  Tensor out = Tensor::empty({2, 3}, DType::i64);
  cpu().binary(BinaryOp::mul, a, b, out);
  CHECK(values<std::int64_t>(out) == Longs{0, 16, 40, 7, 27, 55});
}

TEMPLATE_TEST_CASE("binary arithmetic and comparisons work in every dtype", "", float, double,
                   std::int64_t) {
  using T = TestType;
  Tensor a = tensor<T>({4}, {6, 2, 3, 5});
  Tensor b = tensor<T>({4}, {3, 2, 4, 2});
  Tensor out = Tensor::empty({4}, tether::dtype_of<T>());
  const auto result = [&](BinaryOp op) {
    cpu().binary(op, a, b, out);
    return values<T>(out);
  };
  using V = std::vector<T>;
  CHECK(result(BinaryOp::add) == V{9, 4, 7, 7});
  CHECK(result(BinaryOp::sub) == V{3, 0, -1, 3});
  CHECK(result(BinaryOp::mul) == V{18, 4, 12, 10});
  CHECK(result(BinaryOp::div)[0] == 2);
  CHECK(result(BinaryOp::pow) == V{216, 4, 81, 25});
  CHECK(result(BinaryOp::maximum) == V{6, 2, 4, 5});
  CHECK(result(BinaryOp::minimum) == V{3, 2, 3, 2});
  // The predicates write a bool mask.
  Tensor mask = Tensor::empty({4}, DType::boolean);
  const auto test = [&](BinaryOp op) {
    cpu().binary(op, a, b, mask);
    return values<bool>(mask);
  };
  using Bools = std::vector<bool>;
  constexpr bool F = false, T_ = true;
  CHECK(test(BinaryOp::eq) == Bools{F, T_, F, F});
  CHECK(test(BinaryOp::ne) == Bools{T_, F, T_, T_});
  CHECK(test(BinaryOp::lt) == Bools{F, F, T_, F});
  CHECK(test(BinaryOp::le) == Bools{F, T_, T_, F});
  CHECK(test(BinaryOp::gt) == Bools{T_, F, F, T_});
  CHECK(test(BinaryOp::ge) == Bools{T_, T_, F, T_});
  CHECK(test(BinaryOp::logical_and) == Bools{T_, T_, T_, T_});
}

TEST_CASE("the logical predicates take nonzero as true, and arithmetic refuses bool") {
  Tensor a = tensor<double>({4}, {0, 0, 2, -0.5});
  Tensor b = tensor<double>({4}, {0, 3, 0, 1});
  Tensor mask = Tensor::empty({4}, DType::boolean);
  const auto test = [&](BinaryOp op) {
    cpu().binary(op, a, b, mask);
    return values<bool>(mask);
  };
  CHECK(test(BinaryOp::logical_and) == std::vector<bool>{false, false, false, true});
  CHECK(test(BinaryOp::logical_or) == std::vector<bool>{false, true, true, true});
  CHECK(test(BinaryOp::logical_xor) == std::vector<bool>{false, true, true, false});
  CHECK_THROWS_AS(cpu().binary(BinaryOp::add, mask, mask, mask), tether::DTypeError);
  CHECK_THROWS_AS(cpu().unary(UnaryOp::neg, mask, mask, {}), tether::DTypeError);
}

TEST_CASE("binary maximum and minimum propagate NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor a = tensor<float>({2}, {nan, 1});
  Tensor b = tensor<float>({2}, {0, nan});
  Tensor out = Tensor::empty({2}, DType::f32);
  for (const auto op : {BinaryOp::maximum, BinaryOp::minimum}) {
    cpu().binary(op, a, b, out);
    CHECK(std::isnan(values<float>(out)[0]));
    CHECK(std::isnan(values<float>(out)[1]));
  }
}

TEST_CASE("integer division truncates and refuses a zero divisor") {
  Tensor out = Tensor::empty({2}, DType::i64);
  cpu().binary(BinaryOp::div, tensor<std::int64_t>({2}, {7, -7}), tensor<std::int64_t>({2}, {2, 2}),
               out);
  CHECK(values<std::int64_t>(out) == Longs{3, -3});
  CHECK_THROWS_AS(cpu().binary(BinaryOp::div, tensor<std::int64_t>({2}, {1, 1}),
                               tensor<std::int64_t>({2}, {1, 0}), out),
                  tether::ValueError);
  CHECK_THROWS_AS(cpu().binary(BinaryOp::pow, tensor<std::int64_t>({2}, {2, 2}),
                               tensor<std::int64_t>({2}, {1, -1}), out),
                  tether::ValueError);
}

TEST_CASE("where picks by a bool condition, broadcast, into any dtype") {
  Tensor cond = expanded(tensor<bool>({1, 3}, {true, false, true}), {2, 3});
  Tensor b = expanded(tensor<double>({1, 1}, {-1}), {2, 3});
  Tensor out = Tensor::empty({2, 3}, DType::f64);
  cpu().where(cond, iota<double>({2, 3}), b, out);
  CHECK(values<double>(out) == Doubles{0, -1, 2, 3, -1, 5});
  Tensor picked = Tensor::empty({3}, DType::boolean);
  cpu().where(tensor<bool>({3}, {true, false, false}), tensor<bool>({3}, {false, true, true}),
              tensor<bool>({3}, {true, true, false}), picked);
  CHECK(values<bool>(picked) == std::vector<bool>{false, true, false});
}

TEST_CASE("where over contiguous f32 operands picks each element, NaN and infinity included") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<bool> mask(37);
  std::vector<float> a(37), b(37), expected(37);
  for (std::size_t i = 0; i < mask.size(); ++i) {
    mask[i] = (i * 5) % 3 == 0;
    a[i] = i == 3 ? nan : static_cast<float>(i);
    b[i] = i == 4 ? inf : -static_cast<float>(i);
    expected[i] = mask[i] ? a[i] : b[i];
  }
  Tensor out = Tensor::empty({37}, DType::f32);
  cpu().where(tensor<bool>({37}, mask), tensor<float>({37}, a), tensor<float>({37}, b), out);
  const std::vector<float> got = values<float>(out);
  CHECK(std::isnan(got[3]));
  CHECK(got[4] == inf);
  for (std::size_t i = 5; i < got.size(); ++i) CHECK(got[i] == expected[i]);
}

TEST_CASE("element-wise kernels follow permuted strides in four dimensions") {
  // in[i][j][k][l] laid out as a [4, 3, 2, 5] tensor permuted to [2, 3, 4, 5].
  Tensor storage = iota<double>({4, 3, 2, 5});
  Tensor permuted = Tensor::view_of(storage, {2, 3, 4, 5}, {5, 10, 30, 1}, 0);
  Tensor out = Tensor::empty({2, 3, 4, 5}, DType::f64);
  cpu().binary(BinaryOp::add, permuted, permuted, out);
  const auto in = values<double>(permuted), sum = values<double>(out);
  for (std::size_t i = 0; i < in.size(); ++i) CHECK(sum[i] == 2 * in[i]);
  CHECK(in[1] == 1);
  CHECK(in[5] == 30);
}

// ---- reductions ------------------------------------------------------------

namespace {

/// in reduced over the dimensions in `mask` by `op`, as a fresh tensor.
Tensor reduced(ReduceOp op, const Tensor& in, std::uint32_t mask) {
  Shape shape = in.shape();
  for (int d = 0; d < in.dim(); ++d)
    if (mask >> d & 1) shape[d] = 1;
  Tensor out = Tensor::empty(shape, in.dtype());
  cpu().reduce(op, in, mask, out);
  return out;
}

}  // namespace

TEST_CASE("sum reduces trailing, leading, middle and all dimensions") {
  Tensor x = iota<double>({2, 3, 4});  // x[i][j][k] = 12i + 4j + k
  CHECK(reduced(ReduceOp::sum, x, 0b100).shape() == Shape{2, 3, 1});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b100)) == Doubles{6, 22, 38, 54, 70, 86});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b001)) ==
        Doubles{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b010)) ==
        Doubles{12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b011)) == Doubles{60, 66, 72, 78});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b101)) == Doubles{60, 92, 124});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b111)) == Doubles{276});
}

TEST_CASE("sum of a bias gradient reduces a long batch dimension") {
  Tensor grad = Tensor::empty({1000, 3}, DType::f32);
  cpu().fill(grad, 0.5);
  CHECK(values<float>(reduced(ReduceOp::sum, grad, 0b01)) == Floats{500, 500, 500});
}

TEST_CASE("max and min reduce a transposed input in every dtype") {
  Tensor x = transposed(tensor<std::int64_t>({3, 2}, {4, -1, 7, 9, -3, 2}), 0, 1);
  // x = [[4, 7, -3], [-1, 9, 2]]
  CHECK(values<std::int64_t>(reduced(ReduceOp::max, x, 0b10)) == Longs{7, 9});
  CHECK(values<std::int64_t>(reduced(ReduceOp::min, x, 0b01)) == Longs{-1, 7, -3});
  CHECK(values<std::int64_t>(reduced(ReduceOp::sum, x, 0b11)) == Longs{18});
  Tensor f = tensor<float>({2, 2}, {-5, -6, -7, -8});
  CHECK(values<float>(reduced(ReduceOp::max, f, 0b11)) == Floats{-5});
}

TEST_CASE("max propagates NaN and refuses an empty dimension") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = tensor<double>({2, 3}, {1, nan, 3, 4, 5, 6});
  const auto result = values<double>(reduced(ReduceOp::max, x, 0b10));
  CHECK(std::isnan(result[0]));
  CHECK(result[1] == 6);
  CHECK_THROWS_AS(reduced(ReduceOp::max, Tensor::empty({2, 0}, DType::f64), 0b10),
                  tether::ValueError);
  CHECK(values<double>(reduced(ReduceOp::sum, Tensor::empty({2, 0}, DType::f64), 0b10)) ==
        Doubles{0, 0});
}

TEST_CASE("sum of a broadcast input counts each repeated element") {
  Tensor x = expanded(tensor<double>({1, 3}, {1, 2, 3}), {4, 3});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b01)) == Doubles{4, 8, 12});
  CHECK(values<double>(reduced(ReduceOp::sum, x, 0b10)) == Doubles{6, 6, 6, 6});
}

TEST_CASE("argmax returns the first largest index along a dimension") {
  Tensor x = tensor<float>({2, 4}, {1, 5, 5, 0, 3, 2, 3, 9});
  Tensor rows = Tensor::empty({2, 1}, DType::i64);
  cpu().argmax(x, 1, rows);
  CHECK(values<std::int64_t>(rows) == Longs{1, 3});
  Tensor columns = Tensor::empty({1, 4}, DType::i64);
  cpu().argmax(x, 0, columns);
  CHECK(values<std::int64_t>(columns) == Longs{1, 0, 0, 1});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  cpu().argmax(tensor<float>({2, 4}, {1, nan, 5, 0, 3, 2, 3, 9}), 1, rows);
  CHECK(values<std::int64_t>(rows) == Longs{1, 3});
}

// ---- matmul ----------------------------------------------------------------

namespace {

/// The elements of an f32 or f64 view, as doubles.
std::vector<double> float_values(const Tensor& t) {
  if (t.dtype() == DType::f64) return values<double>(t);
  const std::vector<float> floats = values<float>(t);
  return {floats.begin(), floats.end()};
}

/// out[b] = a[b] @ b[b] by the definition, in double.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  const auto av = float_values(a), bv = float_values(b);
  const std::int64_t batches = a.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  std::vector<double> out(static_cast<std::size_t>(batches * m * n));
  for (std::int64_t p = 0; p < batches; ++p)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (std::int64_t l = 0; l < k; ++l)
          acc += av[(p * m + i) * k + l] * bv[(p * k + l) * n + j];
        out[(p * m + i) * n + j] = acc;
      }
  return out;
}

/// A [batches, rows, cols] tensor of varied small integers (so that every
/// product is exact), built transposed (a view of a [batches, cols, rows]
/// buffer) when `transpose` is set.
Tensor matrices(std::int64_t batches, std::int64_t rows, std::int64_t cols, bool transpose,
                std::int64_t seed, DType dtype = DType::f64) {
  const Shape shape = transpose ? Shape{batches, cols, rows} : Shape{batches, rows, cols};
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<double>((i * 7 + seed * 13) % 11) - 5;
  Tensor t = Tensor::empty(shape, dtype);
  cpu().copy(tensor<double>(shape, v), t);
  return transpose ? transposed(t, 1, 2) : t;
}

/// Sets the CPU GEMM route for its lifetime, restoring the previous one after.
struct RouteGuard {
  explicit RouteGuard(GemmRoute route) : previous(set_cpu_gemm_route(route)) {}
  ~RouteGuard() { set_cpu_gemm_route(previous); }
  RouteGuard(const RouteGuard&) = delete;
  RouteGuard& operator=(const RouteGuard&) = delete;
  GemmRoute previous;
};

void check_matmul(const Tensor& a, const Tensor& b) {
  const Shape shape = {a.shape()[0], a.shape()[1], b.shape()[2]};
  Tensor out = Tensor::empty(shape, a.dtype());
  cpu().matmul(a, b, out);
  CHECK(float_values(out) == naive_matmul(a, b));
}

}  // namespace

TEST_CASE("matmul matches the definition for row- and column-major operands") {
  // 3x4x5 runs on Eigen and 128x128x128 on OpenBLAS with the default rule.
  for (const std::int64_t size : {1, 4, 128}) {
    for (const bool transpose_a : {false, true}) {
      for (const bool transpose_b : {false, true}) {
        INFO("size " << size << " transpose_a " << transpose_a << " transpose_b " << transpose_b);
        const std::int64_t m = size == 4 ? 3 : size, k = size, n = size == 4 ? 5 : size;
        check_matmul(matrices(2, m, k, transpose_a, 1), matrices(2, k, n, transpose_b, 2));
      }
    }
  }
}

TEST_CASE("matmul broadcasts either operand over the batch") {
  Tensor a = matrices(1, 3, 4, false, 1), b = matrices(3, 4, 2, true, 2);
  Tensor shared_a = Tensor::view_of(a, {3, 3, 4}, {0, 4, 1}, 0);
  check_matmul(shared_a, b);
  Tensor c = matrices(3, 3, 4, false, 3), d = matrices(1, 4, 2, false, 4);
  Tensor shared_d = Tensor::view_of(d, {3, 4, 2}, {0, 2, 1}, 0);
  Tensor out = Tensor::empty({3, 3, 2}, DType::f64);
  cpu().matmul(c, shared_d, out);
  CHECK(values<double>(out) == naive_matmul(c, expanded(d, {3, 4, 2})));
}

TEST_CASE("matmul packs operands that are neither row- nor column-major") {
  Tensor wide = matrices(2, 3, 8, false, 5);
  Tensor every_other_column = Tensor::view_of(wide, {2, 3, 4}, {24, 8, 2}, 0);
  Tensor row = Tensor::view_of(matrices(1, 1, 2, false, 6), {2, 4, 2}, {0, 0, 1}, 0);
  check_matmul(every_other_column, row);
}

TEST_CASE("matmul computes f32 products and zeros for an empty inner dimension") {
  Tensor a = Tensor::empty({1, 2, 3}, DType::f32), b = Tensor::empty({1, 3, 2}, DType::f32);
  cpu().copy(tensor<double>({1, 2, 3}, {1, 2, 3, 4, 5, 6}), a);
  cpu().copy(tensor<double>({1, 3, 2}, {1, 0, 0, 1, 1, 1}), b);
  Tensor out = Tensor::empty({1, 2, 2}, DType::f32);
  cpu().matmul(a, b, out);
  CHECK(values<float>(out) == Floats{4, 5, 10, 11});
  Tensor no_k = Tensor::empty({1, 2, 0}, DType::f32), k_rows = Tensor::empty({1, 0, 2}, DType::f32);
  cpu().matmul(no_k, k_rows, out);
  CHECK(values<float>(out) == Floats{0, 0, 0, 0});
}

TEST_CASE(
    "matmul matches the definition on every route, f32 and f64, for transposed, strided, "
    "broadcast and batched operands") {
  const RouteGuard restore(GemmRoute::automatic);
  for (const GemmRoute route :
       {GemmRoute::eigen, GemmRoute::openblas, GemmRoute::native, GemmRoute::automatic}) {
    set_cpu_gemm_route(route);
    for (const DType dtype : {DType::f32, DType::f64}) {
      INFO("route " << static_cast<int>(route) << " dtype " << dtype);
      // native runs f32 only (and only in builds for AVX-512): the rest on Eigen.
      if (route == GemmRoute::native && dtype == DType::f64)
        CHECK(cpu_gemm_route(dtype, 9, 13, 17) == GemmRoute::eigen);
      else if (route == GemmRoute::native)
        CHECK((cpu_gemm_route(dtype, 9, 13, 17) == route ||
               cpu_gemm_route(dtype, 9, 13, 17) == GemmRoute::eigen));
      else if (route != GemmRoute::automatic)
        CHECK(cpu_gemm_route(dtype, 9, 13, 17) == route);
      // 9x17 @ 17x13: beyond the plain loop's 128 multiply-adds, so a GEMM runs.
      for (const bool transpose_a : {false, true})
        for (const bool transpose_b : {false, true})
          check_matmul(matrices(2, 9, 17, transpose_a, 1, dtype),
                       matrices(2, 17, 13, transpose_b, 2, dtype));
      const Tensor wide = matrices(2, 9, 34, false, 3, dtype);
      const Tensor every_other_column = Tensor::view_of(wide, {2, 9, 17}, {306, 34, 2}, 0);
      check_matmul(every_other_column, matrices(2, 17, 13, false, 4, dtype));
      const Tensor shared_b = expanded(matrices(1, 17, 13, true, 5, dtype), {3, 17, 13});
      check_matmul(matrices(3, 9, 17, false, 6, dtype), shared_b);  // stacked into one product
      const Tensor shared_a = expanded(matrices(1, 9, 17, false, 7, dtype), {3, 9, 17});
      check_matmul(shared_a, matrices(3, 17, 13, true, 8, dtype));
    }
  }
}

TEST_CASE(
    "the native route matches the definition at its tiles' edges: rows past a multiple of 12, "
    "columns past 16 and 32, packed blocks of b in depth and width, few columns, either operand "
    "transposed") {
  const RouteGuard restore(GemmRoute::native);
  // m x k @ k x n: 25 rows are two full tiles and one of 1; 10 and 33 columns
  // end inside a vector; depth 300 is a block of 256 and one of 44, 17 is not
  // a multiple of the 16 x 16 transposes that pack a transposed b, 530
  // columns are a block of 512 and one of 18, and 100 x 10 and 530 x 3 are
  // computed transposed (the latter in two blocks of rows).
  for (const auto& [m, n, k] :
       {std::tuple{25, 10, 300}, std::tuple{13, 33, 17}, std::tuple{128, 64, 40},
        std::tuple{13, 530, 20}, std::tuple{100, 10, 300}, std::tuple{530, 3, 20}})
    for (const bool transpose_a : {false, true})
      for (const bool transpose_b : {false, true}) {
        INFO(m << "x" << k << " @ " << k << "x" << n << " transpose_a " << transpose_a
               << " transpose_b " << transpose_b);
        check_matmul(matrices(1, m, k, transpose_a, 1, DType::f32),
                     matrices(1, k, n, transpose_b, 2, DType::f32));
      }
}

TEST_CASE(
    "matrix-vector products (one row or one column, or both) match the definition, f32 and f64, "
    "for transposed and strided operands") {
  for (const DType dtype : {DType::f32, DType::f64})
    for (const bool transpose_matrix : {false, true})
      for (const bool transpose_vector : {false, true}) {
        INFO("dtype " << dtype << " transpose_matrix " << transpose_matrix << " transpose_vector "
                      << transpose_vector);
        // 9x200 @ 200x1 and 1x200 @ 200x7: beyond the plain loop's 128 multiply-adds.
        check_matmul(matrices(2, 9, 200, transpose_matrix, 1, dtype),
                     matrices(2, 200, 1, transpose_vector, 2, dtype));
        check_matmul(matrices(2, 1, 200, transpose_vector, 3, dtype),
                     matrices(2, 200, 7, transpose_matrix, 4, dtype));
        check_matmul(matrices(2, 1, 200, transpose_matrix, 5, dtype),  // a dot product
                     matrices(2, 200, 1, transpose_vector, 6, dtype));
      }
  // Vectors whose entries are 2 apart, on either side.
  const Tensor wide = matrices(1, 1, 400, false, 5);
  const Tensor spaced_row = Tensor::view_of(wide, {1, 1, 200}, {400, 400, 2}, 0);
  const Tensor spaced_column = Tensor::view_of(wide, {1, 200, 1}, {400, 2, 400}, 0);
  check_matmul(matrices(1, 9, 200, true, 6), spaced_column);
  check_matmul(spaced_row, matrices(1, 200, 7, false, 7));
}

TEST_CASE(
    "cpu_gemm_route picks a library for float products and refuses an integer dtype "
    "with a DTypeError naming it") {
  const GemmRoute previous = set_cpu_gemm_route(GemmRoute::automatic);
  const GemmRoute measured = cpu_gemm_route(DType::f64, 64, 64, 64);
  set_cpu_gemm_route(previous);
  CHECK((measured == GemmRoute::eigen || measured == GemmRoute::openblas));  // native is f32 only
  CHECK_THROWS_WITH(cpu_gemm_route(DType::i64, 4, 4, 4),
                    Catch::Contains("cpu_gemm_route") && Catch::Contains("i64"));
  CHECK_THROWS_AS(cpu_gemm_route(DType::i64, 4, 4, 4), tether::DTypeError);
}

TEST_CASE("matmul computes i64 products exactly beyond 2^53, wrapping on overflow as PyTorch") {
  const std::int64_t big = (std::int64_t{1} << 31) + 1, root = 3037000500;  // root^2 > 2^63
  const Tensor a = tensor<std::int64_t>({1, 1, 2}, {big, root});
  Tensor out = Tensor::empty({1, 1, 2}, DType::i64);
  cpu().matmul(a, tensor<std::int64_t>({1, 2, 2}, {big, 0, 0, root}), out);
  CHECK(values<std::int64_t>(out) == Longs{4611686022722355201, -9223372036709301616});
}

// ---- index ops -------------------------------------------------------------

TEST_CASE("index_select picks slices along a dimension, repeating indices") {
  Tensor x = iota<float>({3, 2});
  Tensor index = tensor<std::int64_t>({3}, {2, 0, 2});
  Tensor rows = Tensor::empty({3, 2}, DType::f32);
  cpu().index_select(x, 0, index, rows);
  CHECK(values<float>(rows) == Floats{4, 5, 0, 1, 4, 5});
  Tensor columns = Tensor::empty({2, 3}, DType::f32);
  cpu().index_select(transposed(x, 0, 1), 1, index, columns);
  CHECK(values<float>(columns) == Floats{4, 0, 4, 5, 1, 5});
}

TEST_CASE("index_select names the op, the index and the size when out of range") {
  Tensor out = Tensor::empty({1, 2}, DType::f32);
  CHECK_THROWS_WITH(cpu().index_select(iota<float>({5, 2}), 0, tensor<std::int64_t>({1}, {7}), out),
                    "index_select: index 7 is out of range for dimension 0 of size 5");
  CHECK_THROWS_AS(cpu().index_select(iota<float>({5, 2}), 0, tensor<std::int64_t>({1}, {-1}), out),
                  tether::IndexError);
}

TEST_CASE("index_add accumulates repeated indices and leaves out untouched on error") {
  Tensor out = tensor<double>({3, 2}, {1, 1, 1, 1, 1, 1});
  Tensor index = tensor<std::int64_t>({3}, {0, 2, 0});
  cpu().index_add(out, 0, index, iota<double>({3, 2}));
  CHECK(values<double>(out) == Doubles{5, 7, 1, 1, 3, 4});
  CHECK_THROWS_AS(
      cpu().index_add(out, 0, tensor<std::int64_t>({3}, {0, 1, 3}), iota<double>({3, 2})),
      tether::IndexError);
  CHECK(values<double>(out) == Doubles{5, 7, 1, 1, 3, 4});
}

TEST_CASE("gather reads one element per index along a dimension") {
  Tensor x = iota<std::int64_t>({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  Tensor index = tensor<std::int64_t>({2, 2}, {2, 0, 1, 1});
  Tensor out = Tensor::empty({2, 2}, DType::i64);
  cpu().gather(x, 1, index, out);
  CHECK(values<std::int64_t>(out) == Longs{2, 0, 4, 4});
  Tensor down = Tensor::empty({1, 3}, DType::i64);
  cpu().gather(x, 0, tensor<std::int64_t>({1, 3}, {1, 0, 1}), down);
  CHECK(values<std::int64_t>(down) == Longs{3, 1, 5});
  CHECK_THROWS_WITH(cpu().gather(x, 1, tensor<std::int64_t>({2, 2}, {0, 3, 0, 0}), out),
                    "gather: index 3 is out of range for dimension 1 of size 3");
}

TEST_CASE("scatter_add adds each source element at its index") {
  Tensor out = tensor<float>({2, 3}, {0, 0, 0, 0, 0, 100});
  Tensor index = tensor<std::int64_t>({2, 2}, {2, 2, 0, 2});
  cpu().scatter_add(out, 1, index, tensor<float>({2, 2}, {1, 2, 3, 4}));
  CHECK(values<float>(out) == Floats{0, 0, 3, 3, 0, 104});
  CHECK_THROWS_WITH(cpu().scatter_add(out, 0, index, tensor<float>({2, 2}, {1, 2, 3, 4})),
                    "scatter_add: index 2 is out of range for dimension 0 of size 2");
}
