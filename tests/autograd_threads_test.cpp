// set_num_threads / get_num_threads: the CPU matrix products' thread count.
#include <tether/tether.h>
#include <catch2/catch.hpp>

using namespace tether;

TEST_CASE("set_num_threads sets the matrix products' threads and products stay right",
          "[threads]") {
  const int before = get_num_threads();
  REQUIRE(before >= 1);
  const Tensor a = randn({256, 256}, DType::f64), b = randn({256, 256}, DType::f64);
  const Tensor expected = matmul(a, b);
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  CHECK(amax(abs(matmul(a, b) - expected)).item<double>() < 1e-10);
  set_num_threads(before);
  CHECK(get_num_threads() == before);
}

TEST_CASE("set_num_threads refuses fewer than one thread", "[threads]") {
  CHECK_THROWS_AS(set_num_threads(0), ValueError);
  CHECK_THROWS_WITH(set_num_threads(-2), Catch::Matchers::Contains("at least 1 thread, got -2"));
}
