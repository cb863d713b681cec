// one_hot and allclose: values as torch gives them, and errors that name the op.
#include <tether/tether.h>

#include <catch2/catch.hpp>
#include <cmath>

using namespace tether;
using Catch::Matchers::Contains;

TEST_CASE("one_hot encodes i64 indices as i64 rows, counting classes from the largest index",
          "[one_hot]") {
  const Tensor indices = tensor({2, 0, 1, 2}, {2, 2}, DType::i64);
  const Tensor encoded = one_hot(indices);
  CHECK(encoded.dtype() == DType::i64);
  CHECK(encoded.shape() == Shape{2, 2, 3});
  CHECK(encoded.to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(one_hot(tensor({1}, DType::i64), 4).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{0, 1, 0, 0});
  CHECK(one_hot(zeros({0}, DType::i64), 3).shape() == Shape{0, 3});
}

TEST_CASE("one_hot names itself for indices it cannot encode", "[one_hot]") {
  CHECK_THROWS_WITH(one_hot(tensor({0, 3}, DType::i64), 3),
                    Contains("one_hot: expected class indices in [0, 3), got 0 to 3"));
  CHECK_THROWS_WITH(one_hot(tensor({-1, 1}, DType::i64)),
                    Contains("one_hot: expected class indices in [0, 2), got -1 to 1"));
  CHECK_THROWS_WITH(one_hot(zeros({0}, DType::i64)), Contains("one_hot: cannot infer num_classes"));
  CHECK_THROWS_WITH(one_hot(tensor({1.0})),
                    Contains("one_hot: expected i64 class indices, got f32"));
  CHECK_THROWS_AS(one_hot(tensor({1}, DType::i64), -2), ValueError);
}

TEST_CASE("allclose compares within atol + rtol |b|, broadcasting, as torch.allclose",
          "[allclose]") {
  const Tensor a = tensor({1.0, 100.0}, DType::f64);
  CHECK(allclose(a, a));
  CHECK(allclose(a, tensor({1.0 + 1e-9, 100.0 + 1e-4}, DType::f64)));  // 1e-4 <= 1e-8 + 1e-5 * 100
  CHECK_FALSE(allclose(a, tensor({1.0, 100.01}, DType::f64)));
  CHECK(allclose(a, tensor({1.0, 100.01}, DType::f64), 1e-3));
  CHECK(allclose(a, tensor({1.1, 100.0}, DType::f64), 0, 0.2));
  // Broadcasting: a [2, 1] against b [2].
  CHECK(allclose(full({2, 1}, 3.0), full({2}, 3.0)));
  // Integers compare exactly unless the tolerances admit a difference.
  CHECK(allclose(tensor({1, 2}, DType::i64), tensor({1, 2}, DType::i64)));
  CHECK_FALSE(allclose(tensor({1, 2}, DType::i64), tensor({1, 3}, DType::i64)));
  CHECK(allclose(zeros({0}), zeros({0})));
}

TEST_CASE("allclose takes equal infinities as close and NaNs only with equal_nan", "[allclose]") {
  const Tensor with_inf = tensor({INFINITY, -INFINITY, 1.0}, DType::f64);
  CHECK(allclose(with_inf, with_inf));
  CHECK_FALSE(allclose(with_inf, tensor({-INFINITY, -INFINITY, 1.0}, DType::f64)));
  CHECK_FALSE(allclose(with_inf, tensor({1e308, -INFINITY, 1.0}, DType::f64)));
  const Tensor with_nan = tensor({NAN, 1.0}, DType::f64);
  CHECK_FALSE(allclose(with_nan, with_nan));
  CHECK(allclose(with_nan, with_nan, 1e-5, 1e-8, true));
  CHECK_FALSE(allclose(with_nan, tensor({1.0, 1.0}, DType::f64), 1e-5, 1e-8, true));
}

TEST_CASE("allclose names itself for operands of different dtypes or shapes that do not broadcast",
          "[allclose]") {
  CHECK_THROWS_AS(allclose(zeros({2}), zeros({2}, DType::f64)), DTypeError);
  CHECK_THROWS_WITH(allclose(zeros({2}), zeros({2}, DType::f64)), Contains("allclose"));
  CHECK_THROWS_AS(allclose(zeros({2}), zeros({3})), ShapeError);
  CHECK_THROWS_WITH(allclose(zeros({2}), zeros({3})), Contains("allclose"));
}
