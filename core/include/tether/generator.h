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

/// A standard normal sample by the ziggurat method: about one engine draw and
/// no logarithm per sample, several times faster than std::normal_distribution.
double standard_normal(std::mt19937_64& engine);
}  // namespace detail

}  // namespace tether
