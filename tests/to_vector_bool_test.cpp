// Tensor::to_vector<bool>: reading a mask, or any tensor's truth values, out.
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "tether/tether.h"

namespace tether {
namespace {

TEST_CASE("to_vector<bool> reads a bool tensor, and nonzero (NaN too) as true for others",
          "[tensor]") {
  const Tensor x =
      tensor({2.0, 0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}, {2, 2}, DType::f64);
  CHECK((x > 0.0).to_vector<bool>() == std::vector<bool>{true, false, false, false});
  CHECK(x.to_vector<bool>() == std::vector<bool>{true, false, true, true});
  CHECK(x.t().to_vector<bool>() == std::vector<bool>{true, true, false, true});
  CHECK(tensor({0, 3}, {2}, DType::i64).to_vector<bool>() == std::vector<bool>{false, true});
  CHECK(zeros({0}, DType::boolean).to_vector<bool>().empty());
}

}  // namespace
}  // namespace tether
