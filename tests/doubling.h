// A constraint for caching tests (tests/constraints_caching_test.cpp, tests/backend_cuda_test.cpp):
// it counts how often its forward runs.
#pragma once

#include <string>
#include <vector>

#include "tether/tether.h"

namespace tether::testing {

/// A constraint that counts its forward calls: value = 2 * raw.
struct Doubling : Constraint {
  int calls = 0;
  std::string name() const override { return "doubling"; }
  Tensor forward(const std::vector<Tensor>& raw) override {
    ++calls;
    return raw[0] * 2.0;
  }
  bool has_right_inverse() const override { return true; }
  std::vector<Tensor> right_inverse(const Tensor& value) override { return {value * 0.5}; }
};

}  // namespace tether::testing
