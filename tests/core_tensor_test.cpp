// Tensors as containers, without gradients: factories, reading values out,
// dtype conversion, views and the version counter they share, strided layouts,
// and printing.
#include <catch2/catch.hpp>

#include <cmath>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "tether/tether.h"

using tether::Device;
using tether::DType;
using tether::Shape;
using tether::Strides;
using tether::Tensor;
using tether::TensorOptions;

namespace {

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

std::vector<std::int64_t> integers(const Tensor& t) {
  return t.to_vector<std::int64_t>();
}

std::string printed(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

bool shares_storage(const Tensor& a, const Tensor& b) {
  return a.storage() == b.storage();
}

/// [[0, 1, 2], [3, 4, 5]] as f32.
Tensor matrix_2x3() {
  return tether::arange(6, DType::f32).reshape({2, 3});
}

}  // namespace

TEST_CASE("zeros, ones and full fill every element with one value", "[tensor]") {
  const Tensor z = tether::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == DType::f32);
  CHECK(z.device() == Device::cpu());
  CHECK_FALSE(z.requires_grad());
  CHECK(values(z) == std::vector<double>(6, 0.0));

  const Tensor o = tether::ones({4}, DType::f64);
  CHECK(o.dtype() == DType::f64);
  CHECK(values(o) == std::vector<double>(4, 1.0));

  CHECK(values(tether::full({2, 2}, 2.5)) == std::vector<double>(4, 2.5));
  CHECK(integers(tether::full({3}, 7, DType::i64)) == std::vector<std::int64_t>{7, 7, 7});
  CHECK(tether::zeros({3}, TensorOptions().with_requires_grad()).requires_grad());
}

TEST_CASE("the _like factories copy shape and dtype but not values or requires_grad", "[tensor]") {
  const Tensor like = tether::randn({2, 3}, TensorOptions(DType::f64).with_requires_grad());
  for (const Tensor& made :
       {tether::zeros_like(like), tether::ones_like(like), tether::full_like(like, -1.5)}) {
    CHECK(made.shape() == Shape{2, 3});
    CHECK(made.dtype() == DType::f64);
    CHECK_FALSE(made.requires_grad());
  }
  CHECK(values(tether::zeros_like(like)) == std::vector<double>(6, 0.0));
  CHECK(values(tether::ones_like(like)) == std::vector<double>(6, 1.0));
  CHECK(values(tether::full_like(like, -1.5)) == std::vector<double>(6, -1.5));
}

TEST_CASE("options() carries dtype and device but not requires_grad", "[tensor]") {
  const Tensor x = tether::randn({2}, TensorOptions(DType::f64).with_requires_grad());
  CHECK(x.options().dtype == DType::f64);
  CHECK(x.options().device == Device::cpu());
  CHECK_FALSE(x.options().requires_grad);
}

TEST_CASE("mT transposes each matrix of a batch and refuses a vector", "[tensor]") {
  const Tensor x = tether::arange(12.0, DType::f64).reshape({2, 2, 3});
  const Tensor t = x.mT();
  CHECK(t.shape() == Shape{2, 3, 2});
  CHECK(values(t.contiguous()) == std::vector<double>{0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
  CHECK_THROWS_AS(tether::ones({3}).mT(), tether::ShapeError);
}

TEST_CASE("arange counts to end, or from start by a step, in i64 by default", "[tensor]") {
  const Tensor count = tether::arange(5);
  CHECK(count.dtype() == DType::i64);
  CHECK(integers(count) == std::vector<std::int64_t>{0, 1, 2, 3, 4});

  const Tensor stepped = tether::arange(1, 2, 0.25, DType::f32);
  CHECK(stepped.dtype() == DType::f32);
  CHECK(values(stepped) == std::vector<double>{1.0, 1.25, 1.5, 1.75});

  CHECK(integers(tether::arange(5, 0, -2)) == std::vector<std::int64_t>{5, 3, 1});
  CHECK(tether::arange(0).numel() == 0);
}

TEST_CASE("linspace spaces values evenly and includes both ends", "[tensor]") {
  CHECK(values(tether::linspace(0, 1, 5)) == std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0});
  const Tensor symmetric = tether::linspace(-1, 1, 3, DType::f64);
  CHECK(symmetric.dtype() == DType::f64);
  CHECK(values(symmetric) == std::vector<double>{-1.0, 0.0, 1.0});
  CHECK(values(tether::linspace(2, 5, 1)) == std::vector<double>{2.0});  // as NumPy and PyTorch
  CHECK(tether::linspace(2, 5, 0).numel() == 0);
}

TEST_CASE("eye is square by default and rectangular when given m", "[tensor]") {
  CHECK(values(tether::eye(2)) == std::vector<double>{1, 0, 0, 1});
  const Tensor wide = tether::eye(2, 3, DType::i64);
  CHECK(wide.shape() == Shape{2, 3});
  CHECK(integers(wide) == std::vector<std::int64_t>{1, 0, 0, 0, 1, 0});
}

TEST_CASE("rand in f32 draws multiples of 2^-24, so no value rounds up to 1", "[tensor]") {
  tether::manual_seed(7);
  for (double u : values(tether::rand({1000}))) {
    const double k = std::ldexp(u, 24);
    CHECK(k == std::floor(k));
    CHECK(k < 16777216.0);
  }
}

TEST_CASE("rand and randn repeat their values after manual_seed", "[tensor]") {
  tether::manual_seed(42);
  const std::vector<double> uniform = values(tether::rand({100}));
  const std::vector<double> normal = values(tether::randn({100}, DType::f64));
  tether::manual_seed(42);
  CHECK(values(tether::rand({100})) == uniform);
  CHECK(values(tether::randn({100}, DType::f64)) == normal);

  for (double u : uniform) {
    CHECK(u >= 0.0);
    CHECK(u < 1.0);
  }
  CHECK(uniform != values(tether::rand({100})));  // the stream moves on without a reseed
  bool has_negative = false;
  for (double z : normal) has_negative = has_negative || z < 0.0;
  CHECK(has_negative);
}

TEST_CASE("randn follows the standard normal distribution, tails included", "[tensor]") {
  tether::manual_seed(7);
  const std::vector<double> z = values(tether::randn({400000}, DType::f64));
  double sum = 0, squares = 0;
  std::int64_t below_one = 0, below_minus_two = 0, beyond_tail = 0;
  for (double x : z) {
    sum += x;
    squares += x * x;
    below_one += x < 1.0;
    below_minus_two += x < -2.0;
    beyond_tail += std::abs(x) > 3.442619855899;  // the ziggurat's tail, sampled separately
  }
  const double n = static_cast<double>(z.size());
  CHECK(std::abs(sum / n) < 0.006);  // 4 standard errors
  CHECK(std::abs(squares / n - 1.0) < 0.01);
  CHECK(below_one / n == Approx(0.841345).margin(0.003));  // Phi(1)
  CHECK(below_minus_two / n == Approx(0.022750).margin(0.001));
  CHECK(beyond_tail / n == Approx(5.761e-4).margin(1.5e-4));  // 2 (1 - Phi(3.4426))
}

TEST_CASE("tensor() holds the given values in row-major order in the requested dtype", "[tensor]") {
  const Tensor m = tether::tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(m.shape() == Shape{2, 3});
  CHECK(m.dtype() == DType::f32);
  CHECK(m.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});

  const Tensor labels = tether::tensor({-3, 0, 9'000'000'000}, {3}, DType::i64);
  CHECK(labels.dtype() == DType::i64);
  CHECK(integers(labels) == std::vector<std::int64_t>{-3, 0, 9'000'000'000});

  const Tensor s = tether::scalar_tensor(3.5);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item<float>() == 3.5f);
}

TEST_CASE("item reads the single element in any element type", "[tensor]") {
  CHECK(tether::tensor({2.5}, {1, 1}).item<double>() == 2.5);
  CHECK(tether::tensor({2.5}, {1}, DType::f64).item<float>() == 2.5f);
  CHECK(tether::scalar_tensor(7, DType::i64).item<std::int64_t>() == 7);
  CHECK(tether::scalar_tensor(7, DType::i64).item<double>() == 7.0);
}

TEST_CASE("to(dtype) converts values and round-trips between dtypes", "[tensor]") {
  const Tensor x = tether::tensor({-1.5, 0, 2.25, 1e6}, {4});
  const Tensor wide = x.to(DType::f64);
  CHECK(wide.dtype() == DType::f64);
  CHECK(values(wide) == values(x));
  CHECK(values(wide.to(DType::f32)) == values(x));

  const Tensor ints = tether::tensor({-5, 0, 7}, {3}, DType::i64);
  CHECK(integers(ints.to(DType::f32).to(DType::i64)) == integers(ints));
  CHECK(integers(ints.to(DType::f64).to(DType::i64)) == integers(ints));

  // Floating to integer truncates toward zero, as in C++ and PyTorch.
  CHECK(integers(tether::tensor({-2.7, 2.7}, {2}).to(DType::i64)) ==
        std::vector<std::int64_t>{-2, 2});
  CHECK(x.to(DType::f32).is_same(x));
}

TEST_CASE("a write through a view changes the base and bumps the shared version", "[tensor]") {
  Tensor x = matrix_2x3();
  const std::uint64_t before = x.version();
  Tensor columns = x.narrow(1, 1, 2);
  CHECK(shares_storage(columns, x));

  columns.add_(1);
  CHECK(values(x) == std::vector<double>{0, 2, 3, 3, 5, 6});
  CHECK(x.version() == before + 1);
  CHECK(columns.version() == x.version());

  x.select(0, 0).fill_(-1);
  x.t().narrow(0, 2, 1).mul_(10);  // column 2 through a transposed view
  CHECK(values(x) == std::vector<double>{-1, -1, -10, 3, 5, 60});
  CHECK(x.version() == before + 3);
}

TEST_CASE("reshape views a tensor when the strides allow it and copies otherwise", "[tensor]") {
  const Tensor x = matrix_2x3();
  const Tensor rows = x.reshape({3, 2});
  CHECK(shares_storage(rows, x));
  CHECK(values(rows) == values(x));

  const Tensor transposed = x.t();
  REQUIRE_FALSE(transposed.is_contiguous());
  CHECK(shares_storage(transposed.reshape({3, 1, 2}), x));  // only inserts a unit dimension

  const Tensor flat = transposed.reshape({6});
  CHECK_FALSE(shares_storage(flat, x));
  CHECK(flat.is_contiguous());
  CHECK(values(flat) == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(transposed.reshape({-1, 2}).shape() == Shape{3, 2});
}

TEST_CASE("transpose, permute, expand, slice and select set strides without copying", "[tensor]") {
  const Tensor x = tether::zeros({2, 3, 4});
  CHECK(x.strides() == Strides{12, 4, 1});

  const Tensor swapped = x.transpose(0, 2);
  CHECK(swapped.shape() == Shape{4, 3, 2});
  CHECK(swapped.strides() == Strides{1, 4, 12});
  CHECK(shares_storage(swapped, x));

  const Tensor permuted = x.permute({2, 0, 1});
  CHECK(permuted.shape() == Shape{4, 2, 3});
  CHECK(permuted.strides() == Strides{1, 12, 4});

  const Tensor expanded = tether::zeros({3, 1}).expand({2, 3, 4});
  CHECK(expanded.shape() == Shape{2, 3, 4});
  CHECK(expanded.strides() == Strides{0, 1, 0});
  CHECK(tether::zeros({1, 4}).expand({3, -1}).strides() == Strides{0, 1});

  const Tensor picked = x.select(1, 2);
  CHECK(picked.shape() == Shape{2, 4});
  CHECK(picked.strides() == Strides{12, 1});
  CHECK(picked.storage_offset() == 8);

  const Tensor every_third = tether::slice(tether::arange(10), 0, 1, 8, 3);
  CHECK(every_third.shape() == Shape{3});
  CHECK(every_third.strides() == Strides{3});
  CHECK(every_third.storage_offset() == 1);
  CHECK(integers(every_third) == std::vector<std::int64_t>{1, 4, 7});
}

TEST_CASE("contiguous copies a strided view into row-major order", "[tensor]") {
  const Tensor x = matrix_2x3();
  const Tensor dense = x.t().contiguous();
  CHECK(dense.is_contiguous());
  CHECK(dense.strides() == Strides{2, 1});
  CHECK(values(dense) == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK_FALSE(shares_storage(dense, x));
  CHECK(x.contiguous().is_same(x));
}

TEST_CASE("printing follows PyTorch's layout", "[tensor]") {
  SECTION("an f32 matrix aligns its columns") {
    CHECK(printed(tether::tensor({1.5, 2, -3.25, 4}, {2, 2})) ==
          "tensor([[ 1.5000,  2.0000],\n"
          "        [-3.2500,  4.0000]])");
  }
  SECTION("an f64 vector names its dtype") {
    CHECK(printed(tether::tensor({0.5, 1, 2}, {3}, DType::f64)) ==
          "tensor([0.5000, 1.0000, 2.0000], dtype=f64)");
  }
  SECTION("an i64 tensor prints integers, blank lines between matrices") {
    CHECK(printed(tether::tensor({1, -20, 300}, {3}, DType::i64)) ==
          "tensor([  1, -20, 300], dtype=i64)");
    CHECK(printed(tether::arange(8).reshape({2, 2, 2})) ==
          "tensor([[[0, 1],\n"
          "         [2, 3]],\n"
          "\n"
          "        [[4, 5],\n"
          "         [6, 7]]], dtype=i64)");
  }
  SECTION("a scalar and tiny magnitudes") {
    CHECK(printed(tether::scalar_tensor(3.5)) == "tensor(3.5000)");
    CHECK(printed(tether::tensor({1e-5, 1}, {2})) == "tensor([1.0000e-05, 1.0000e+00])");
  }
  SECTION("a tensor without elements prints the empty list and, beyond 1-d, its shape") {
    CHECK(printed(tether::zeros({0})) == "tensor([])");
    CHECK(printed(tether::zeros({2, 0}, DType::f64)) == "tensor([], size=[2, 0], dtype=f64)");
    // Found by the program fuzzer: the rows of [2, 2^62, 0] were printed one by one.
    CHECK(printed(tether::zeros({2, std::int64_t{1} << 62, 0})) ==
          "tensor([], size=[2, 4611686018427387904, 0])");
  }
  SECTION("autograd state is shown last") {
    const Tensor x = tether::tensor({1, 2}, {2}).requires_grad_();
    CHECK(printed(x) == "tensor([1.0000, 2.0000], requires_grad=True)");
    CHECK(printed(x * x) == "tensor([1.0000, 4.0000], grad_fn=<mul>)");
  }
  CHECK(printed(Tensor()) == "tensor(undefined)");
}
