// The global random generator behind rand/randn: one stream, seeded by
// manual_seed, so that a program's random numbers are reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace tether {

/// Reseeds the global generator.
void manual_seed(std::uint64_t seed);

namespace detail {
/// The global generator (not thread-safe: draw from one thread at a time).
std::mt19937_64& global_generator();

/// A standard normal sample by the ziggurat method: about one engine draw and
/// no logarithm per sample, several times faster than std::normal_distribution.
double standard_normal(std::mt19937_64& engine);

/// A uniform integer in [0, bound) for bound >= 1, by Lemire's multiply-and-reject
/// method: the same numbers from the same engine on every standard library
/// (std::uniform_int_distribution's algorithm is the library's choice).
std::uint64_t uniform_below(std::mt19937_64& engine, std::uint64_t bound);

/// Fills `order` with 0, ..., order.size() - 1 in a uniformly random order
/// (Fisher-Yates with uniform_below).
void random_permutation(std::span<std::int64_t> order, std::mt19937_64& engine);

/// 0, ..., n - 1 in a uniformly random order.
std::vector<std::int64_t> random_permutation(std::int64_t n, std::mt19937_64& engine);
}  // namespace detail

}  // namespace tether
