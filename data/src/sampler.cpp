#include "tether/data/sampler.h"

#include <numeric>
#include <random>

#include "tether/error.h"
#include "tether/generator.h"

namespace tether::data {

namespace {

std::int64_t checked_size(const char* sampler, std::int64_t size) {
  if (size < 0) fail<ValueError>(sampler, ": expected a non-negative dataset size, got ", size);
  return size;
}

}  // namespace

SequentialSampler::SequentialSampler(std::int64_t size)
    : size_(checked_size("SequentialSampler", size)) {}

std::vector<std::int64_t> SequentialSampler::indices(std::uint64_t) const {
  std::vector<std::int64_t> order(static_cast<std::size_t>(size_));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

RandomSampler::RandomSampler(std::int64_t size, std::uint64_t seed)
    : size_(checked_size("RandomSampler", size)), seed_(seed) {}

std::vector<std::int64_t> RandomSampler::indices(std::uint64_t epoch) const {
  // seed_seq mixes all four words, so neighbouring seeds or epochs give
  // unrelated engines (seeding with seed + epoch would repeat orders across runs).
  std::seed_seq words{static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32),
                      static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(epoch >> 32)};
  std::mt19937_64 engine(words);
  return detail::random_permutation(size_, engine);
}

}  // namespace tether::data
