// tensor(): values with a shape, or a 1-d tensor of the values alone, as
// torch.tensor([...]); each common call form compiles and means what it says.
#include <tether/tether.h>
#include <catch2/catch.hpp>

using namespace tether;

TEST_CASE("tensor(values) makes a 1-d tensor of the values, as torch.tensor([...])",
          "[tensor][factory]") {
  const Tensor x = tensor({1.0, -0.5});
  CHECK(x.shape() == Shape{2});
  CHECK(x.dtype() == default_float_dtype);
  CHECK(x.to_vector<double>() == std::vector<double>{1.0, -0.5});
  CHECK(tensor({}).shape() == Shape{0});
}

TEST_CASE("tensor(values, options) takes a dtype or a device without a shape",
          "[tensor][factory]") {
  const Tensor i = tensor({1, 2, 3}, DType::i64);
  CHECK(i.shape() == Shape{3});
  CHECK(i.dtype() == DType::i64);
  CHECK(tensor({1, 2}, Device::cpu()).shape() == Shape{2});
  const Tensor w = tensor({0.5, 1.5}, TensorOptions(DType::f64).with_requires_grad());
  CHECK(w.dtype() == DType::f64);
  CHECK(w.requires_grad());
}

TEST_CASE("tensor(values, {...}) with a braced second argument is the shape", "[tensor][factory]") {
  CHECK(tensor({1, 2}, {2}).shape() == Shape{2});
  CHECK(tensor({1, 2}, {1, 2}).shape() == Shape{1, 2});
  const Tensor m = tensor({1, 2, 3, 4}, {2, 2}, DType::f64);
  CHECK(m.shape() == Shape{2, 2});
  CHECK(m.dtype() == DType::f64);
  const std::int64_t n = 3;
  CHECK(tensor({1, 2, 3}, {n}).shape() == Shape{3});
  CHECK_THROWS_WITH(tensor({1, 2, 3}, {2}), Catch::Contains("tensor: 3 values do not fill shape"));
}
