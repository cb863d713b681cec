// The global random generator behind rand/randn: one stream, seeded by
// manual_seed, so that a program's random numbers are reproducible.
#pragma once

#include <cstdint>
#include <random>

namespace tether {

/// Reseeds the global generator.
void manual_seed(std::uint64_t seed);

namespace detail {
/// The global generator (not thread-safe: draw from one thread at a time).
std::mt19937_64& global_generator();
}  // namespace detail

}  // namespace tether
