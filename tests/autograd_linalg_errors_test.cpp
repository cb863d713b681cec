// The decompositions beyond the op table (op_table_linalg.cpp): the errors for
// inputs they do not take, and the edge cases the table's random inputs never
// reach (infinities outside a triangle, empty matrices).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tensor_checks.h"
#include "tether/tether.h"

using namespace tether;
using namespace tether::testing;

namespace {

/// Matches an exception whose message contains each of `parts`.
Catch::Generic::PredicateMatcher<std::exception> says(std::vector<std::string> parts) {
  std::string description = "says";
  for (const auto& part : parts) description += " \"" + part + "\"";
  return Catch::Predicate<std::exception>(
      [parts](const std::exception& error) {
        const std::string message = error.what();
        return std::all_of(parts.begin(), parts.end(), [&](const std::string& part) {
          return message.find(part) != std::string::npos;
        });
      },
      description);
}

}  // namespace

TEST_CASE("cholesky of a matrix that is not positive definite names the failing leading minor",
          "[linalg]") {
  CHECK_THROWS_MATCHES(cholesky(f64({1.0, 2.0, 2.0, 1.0}, {2, 2})), LinAlgError,
                       says({"cholesky", "not positive-definite", "the leading minor of order 2"}));
  CHECK_THROWS_MATCHES(cholesky(f64({-1.0, 0.0, 0.0, 1.0}, {2, 2})), LinAlgError,
                       says({"leading minor of order 1"}));
  // A zero pivot: positive semi-definite is not enough.
  CHECK_THROWS_MATCHES(cholesky(f64({1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0}, {3, 3})),
                       LinAlgError, says({"leading minor of order 3"}));
  // A NaN is named as the cause, with its index.
  CHECK_THROWS_MATCHES(cholesky(f64({std::numeric_limits<double>::quiet_NaN()}, {1, 1})),
                       LinAlgError, says({"element [0, 0] is NaN"}));
  // LinAlgError is a ValueError, for callers that catch the broader kind.
  CHECK_THROWS_AS(cholesky(f64({1.0, 2.0, 2.0, 1.0}, {2, 2})), ValueError);
}

TEST_CASE("in a batch, the cholesky error names the element that failed", "[linalg]") {
  // Four 2 x 2 matrices in a [2, 2] batch; element [1, 0] is indefinite.
  std::vector<double> values;
  for (int i = 0; i < 4; ++i) values.insert(values.end(), {2.0, 0.0, 0.0, i == 2 ? -1.0 : 2.0});
  const Tensor batch = f64(values, {2, 2, 2, 2});
  CHECK_THROWS_MATCHES(cholesky(batch), LinAlgError,
                       says({"batch element [1, 0]", "leading minor of order 2"}));
  CHECK_THROWS_MATCHES(cholesky(batch.to(DType::f32), /*upper=*/true), LinAlgError,
                       says({"batch element [1, 0]"}));
}

TEST_CASE("logdet of a matrix that is not positive definite says logdet", "[linalg]") {
  CHECK_THROWS_MATCHES(logdet(f64({0.0, 1.0, 1.0, 0.0}, {2, 2})), LinAlgError,
                       says({"logdet", "leading minor of order 1"}));
}

TEST_CASE("the decompositions refuse tensors that are not square matrices", "[linalg]") {
  CHECK_THROWS_MATCHES(cholesky(zeros({2, 3})), ShapeError, says({"cholesky", "square", "[2, 3]"}));
  CHECK_THROWS_MATCHES(cholesky(zeros({4})), ShapeError, says({"cholesky", "[4]"}));
  CHECK_THROWS_MATCHES(logdet(zeros({2, 1, 3})), ShapeError, says({"logdet", "[2, 1, 3]"}));
  CHECK_THROWS_MATCHES(solve_triangular(zeros({3, 2}), zeros({3, 1}), false), ShapeError,
                       says({"solve_triangular", "expected A", "[3, 2]"}));
  CHECK_THROWS_MATCHES(solve_triangular(eye(3), zeros({3}), false), ShapeError,
                       says({"solve_triangular", "expected B", "[3]"}));
  CHECK_THROWS_MATCHES(tril(zeros({3})), ShapeError, says({"tril", "[3]"}));
  CHECK_THROWS_MATCHES(diagonal(zeros({3})), ShapeError, says({"diagonal", "[3]"}));
}

TEST_CASE("a right-hand side that does not fit A names both shapes and what it lacks", "[linalg]") {
  CHECK_THROWS_MATCHES(solve_triangular(eye(3), zeros({2, 1}), false), ShapeError,
                       says({"[3, 3]", "[2, 1]", "needs 3 rows"}));
  CHECK_THROWS_MATCHES(solve_triangular(eye(3), zeros({3, 1}), false, /*left=*/false), ShapeError,
                       says({"[3, 1]", "needs 3 columns"}));
  CHECK_THROWS_MATCHES(solve_triangular(zeros({2, 3, 3}), zeros({4, 3, 1}), true), ShapeError,
                       says({"solve_triangular", "[2]", "[4]"}));
  CHECK_THROWS_MATCHES(cholesky_solve(zeros({2, 1}), eye(3)), ShapeError,
                       says({"cholesky_solve", "[3, 3]", "[2, 1]"}));
}

TEST_CASE("the decompositions take floating matrices of one dtype only", "[linalg]") {
  const Tensor integers = eye(2, std::nullopt, DType::i64);
  CHECK_THROWS_MATCHES(cholesky(integers), DTypeError, says({"cholesky", "i64"}));
  CHECK_THROWS_MATCHES(logdet(integers), DTypeError, says({"logdet", "i64"}));
  CHECK_THROWS_MATCHES(solve_triangular(integers, integers, false), DTypeError,
                       says({"solve_triangular", "i64"}));
  CHECK_THROWS_MATCHES(solve_triangular(eye(2), ones({2, 1}, DType::f64), false), DTypeError,
                       says({"solve_triangular", "f32", "f64"}));
}

TEST_CASE("tril and triu zero an infinity outside the triangle instead of making it NaN",
          "[linalg]") {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor x = f64({1.0, inf, -inf, 2.0}, {2, 2});
  CHECK(tril(x).to_vector<double>() == std::vector<double>{1.0, 0.0, -inf, 2.0});
  CHECK(triu(x).to_vector<double>() == std::vector<double>{1.0, inf, 0.0, 2.0});
}

TEST_CASE("empty matrices factor to empty factors, with log det 0", "[linalg]") {
  const Tensor empty_batch = zeros({3, 0, 0}, DType::f64);
  CHECK(cholesky(empty_batch).shape() == Shape{3, 0, 0});
  CHECK(logdet(empty_batch).to_vector<double>() == std::vector<double>{0.0, 0.0, 0.0});
  CHECK(solve_triangular(empty_batch, zeros({3, 0, 2}, DType::f64), false).shape() ==
        Shape{3, 0, 2});
}

TEST_CASE("a zero on the diagonal of a triangular system gives infinities, not an error",
          "[linalg]") {
  const Tensor x = solve_triangular(f64({0.0, 0.0, 1.0, 1.0}, {2, 2}), f64({1.0, 1.0}, {2, 1}),
                                    /*upper=*/false);
  CHECK(std::isinf(x.to_vector<double>()[0]));
}
