// A helper shared by the nn tests.
#pragma once

#include <tether/tensor.h>
#include <catch2/catch.hpp>

#include <vector>

/// `got`'s elements, in row-major order, approximately equal `expected`.
inline void check_values(const tether::Tensor& got, const std::vector<double>& expected) {
  const auto values = got.to_vector<double>();
  REQUIRE(values.size() == expected.size());
  for (std::size_t i = 0; i < values.size(); ++i) CHECK(values[i] == Approx(expected[i]));
}
