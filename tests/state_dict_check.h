// Helpers shared by the tests of state_dict, load_state_dict and checkpoints.
#pragma once

#include <tether/tether.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tether::testing {

/// Every entry's values, for bitwise comparisons of two states.
using Values = std::map<std::string, std::vector<double>>;

inline Values snapshot(const StateDict& state) {
  Values values;
  for (const auto& [key, tensor] : state) values[key] = tensor.to_vector<double>();
  return values;
}

/// Linear(3, 4) in f64 whose weight is spectrally normalised, initialised from
/// `seed`: state_dict keys "bias", "weight.raw", "weight.u" and "weight.v".
inline std::shared_ptr<nn::Linear> spectral_linear(std::uint64_t seed) {
  manual_seed(seed);
  auto linear = std::make_shared<nn::Linear>(3, 4, true, DType::f64);
  linear->weight = spectrally_normalize(linear->weight);
  return linear;
}

}  // namespace tether::testing
