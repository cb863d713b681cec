// The host decompositions constraints/ runs outside the graph
// (tether/backend/host_linalg.h): what each returns, in which dtype, and the
// errors of the arguments they refuse.
#include <catch2/catch.hpp>

#include <cmath>

#include "tensor_checks.h"
#include "tether/backend/host_linalg.h"
#include "tether/tether.h"

using namespace tether;
using namespace tether::testing;
namespace host = tether::backend::host;

TEST_CASE("host decompositions compute in f64 and round once into the matrix's dtype", "[linalg]") {
  manual_seed(3);
  const Tensor matrix = randn({4, 3}, DType::f64).to(DType::f32);
  const Tensor wide = matrix.to(DType::f64);
  const Tensor polar = host::polar_factor(matrix);
  CHECK(polar.dtype() == DType::f32);
  CHECK(polar.to_vector<float>() == host::polar_factor(wide).to(DType::f32).to_vector<float>());
  const Tensor q = host::completed_orthogonal(matrix);
  CHECK(q.dtype() == DType::f32);
  CHECK(q.to_vector<float>() == host::completed_orthogonal(wide).to(DType::f32).to_vector<float>());
  CHECK(host::singular_values(matrix) == host::singular_values(wide));
}

TEST_CASE("completed_orthogonal extends orthonormal columns to an orthogonal matrix", "[linalg]") {
  const double c = std::sqrt(0.5);
  const Tensor columns = f64({c, 0, -c, 0, 0, 1}, {3, 2});  // orthonormal, [3, 2]
  const Tensor q = host::completed_orthogonal(columns);
  REQUIRE(q.shape() == Shape{3, 3});
  CHECK(max_abs_diff(narrow(q, 1, 0, 2), columns) < 1e-15);
  CHECK(max_abs_diff(matmul(q.t(), q), eye(3, {}, DType::f64)) < 1e-15);
}

TEST_CASE("top_singular_vectors and singular_values of a diagonal matrix", "[linalg]") {
  const Tensor matrix = f64({1, 0, 0, 0, 3, 0}, {2, 3});
  const auto [u, v] = host::top_singular_vectors(matrix);
  CHECK(std::abs(u.to_vector<double>()[1]) == Approx(1.0));
  CHECK(std::abs(v.to_vector<double>()[1]) == Approx(1.0));
  const std::vector<double> values = host::singular_values(matrix);
  REQUIRE(values.size() == 2);
  CHECK(values[0] == Approx(3.0));
  CHECK(values[1] == Approx(1.0));
}

TEST_CASE("map_symmetric_eigenvalues rebuilds the symmetric part from the eigenvalues f returns",
          "[linalg]") {
  const Tensor matrix = f64({2, 1, 3, 2}, {2, 2});  // symmetric part [[2, 2], [2, 2]]: 0 and 4
  std::vector<double> seen;
  const Tensor same = host::map_symmetric_eigenvalues(matrix, [&](std::vector<double> w) {
    seen = w;
    return w;
  });
  CHECK(max_abs_diff(same, f64({2, 2, 2, 2}, {2, 2})) < 1e-14);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == Approx(0.0).margin(1e-14));
  CHECK(seen[1] == Approx(4.0));
  const Tensor raised = host::map_symmetric_eigenvalues(matrix, [](std::vector<double> w) {
    return std::vector<double>{w[0] + 1, w[1]};
  });
  CHECK(max_abs_diff(raised, f64({2.5, 1.5, 1.5, 2.5}, {2, 2})) < 1e-14);
  CHECK_THROWS_AS(host::map_symmetric_eigenvalues(
                      matrix, [](std::vector<double>) { return std::vector<double>{1}; }),
                  ValueError);
}

TEST_CASE(
    "host decompositions throw a ShapeError naming themselves for a tensor that is not a "
    "matrix",
    "[linalg]") {
  const Tensor vector = zeros({3}, DType::f64);
  CHECK_THROWS_WITH(host::polar_factor(vector), Catch::Contains("polar_factor"));
  CHECK_THROWS_AS(host::completed_orthogonal(vector), ShapeError);
  CHECK_THROWS_AS(host::top_singular_vectors(vector), ShapeError);
  CHECK_THROWS_AS(host::singular_values(vector), ShapeError);
  const auto identity = [](std::vector<double> w) { return w; };
  CHECK_THROWS_WITH(host::map_symmetric_eigenvalues(zeros({2, 3}, DType::f64), identity),
                    Catch::Contains("map_symmetric_eigenvalues") && Catch::Contains("square"));
}
