#include "tether/generator.h"

namespace tether {

namespace detail {
std::mt19937_64& global_generator() {
  static std::mt19937_64 generator(0);
  return generator;
}
}  // namespace detail

void manual_seed(std::uint64_t seed) {
  detail::global_generator().seed(seed);
}

}  // namespace tether
