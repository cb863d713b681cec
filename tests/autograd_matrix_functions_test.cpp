// matrix_exp beyond the op table (op_table_linalg.cpp): identities that hold
// for any input, and the errors for inputs it does not take.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

TEST_CASE("matrix_exp(A) matrix_exp(-A) is the identity, from small norms to large ones",
          "[matrix_exp]") {
  manual_seed(91);
  for (double scale : {0.01, 0.3, 1.0, 5.0}) {
    INFO("scale " << scale);
    const Tensor a = randn({4, 4}, DType::f64) * scale;
    const Tensor exp_a = matrix_exp(a), exp_minus_a = matrix_exp(-a);
    // Round-off in the product grows with the size of its factors' entries.
    const double scale_of_terms =
        amax(abs(exp_a)).item<double>() * amax(abs(exp_minus_a)).item<double>();
    CHECK(max_abs_diff(matmul(exp_a, exp_minus_a), eye(4, {}, DType::f64)) <
          1e-13 * std::max(1.0, scale_of_terms));
  }
}

TEST_CASE("matrix_exp of a skew-symmetric matrix is orthogonal with determinant one",
          "[matrix_exp]") {
  manual_seed(92);
  const Tensor raw = randn({3, 3}, DType::f64) * 3.0;
  const Tensor q = matrix_exp(raw - raw.t());
  CHECK(max_abs_diff(matmul(q.t(), q), eye(3, {}, DType::f64)) < 1e-12);
  const std::vector<double> m = q.to_vector<double>();
  const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                     m[2] * (m[3] * m[7] - m[4] * m[6]);
  CHECK(det == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("matrix_exp of a batch is the exponential of each matrix", "[matrix_exp]") {
  manual_seed(93);
  const Tensor batch = randn({2, 3, 3, 3}, DType::f64);
  const Tensor result = matrix_exp(batch);
  REQUIRE(result.shape() == Shape{2, 3, 3, 3});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      CHECK(max_abs_diff(select(select(result, 0, i), 0, j),
                         matrix_exp(select(select(batch, 0, i), 0, j))) < 1e-12);
}

TEST_CASE("matrix_exp rejects non-square, vector and integer inputs, naming itself",
          "[matrix_exp]") {
  CHECK_THROWS_AS(matrix_exp(zeros({2, 3}, DType::f64)), ShapeError);
  CHECK_THROWS_WITH(matrix_exp(zeros({2, 3}, DType::f64)), Catch::Contains("matrix_exp") &&
                                                               Catch::Contains("square") &&
                                                               Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(matrix_exp(zeros({3})), ShapeError);
  CHECK_THROWS_AS(matrix_exp(zeros({2, 2}, DType::i64)), DTypeError);
  CHECK_THROWS_WITH(matrix_exp(zeros({2, 2}, DType::i64)),
                    Catch::Contains("matrix_exp") && Catch::Contains("i64"));
}
