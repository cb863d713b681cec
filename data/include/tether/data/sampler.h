// Samplers: the order in which a DataLoader visits a dataset's examples.
//
// A sampler is a pure function of the epoch number, so that an epoch's order
// can be recomputed (a resumed run, every rank of a distributed job) without
// replaying the epochs before it. A sharding sampler for distributed training
// wraps another sampler and keeps every world_size-th index of its order.
#pragma once

#include <cstdint>
#include <vector>

namespace tether::data {

class Sampler {
 public:
  virtual ~Sampler() = default;

  /// The number of indices each epoch visits.
  virtual std::int64_t size() const = 0;

  /// The dataset indices that epoch `epoch` visits, in order.
  virtual std::vector<std::int64_t> indices(std::uint64_t epoch) const = 0;
};

/// 0, 1, ..., size - 1 in every epoch. Throws ValueError for a negative size.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(std::int64_t size);
  std::int64_t size() const override { return size_; }
  std::vector<std::int64_t> indices(std::uint64_t epoch) const override;

 private:
  std::int64_t size_;
};

/// A permutation of 0, ..., size - 1 drawn afresh for each epoch from an
/// engine seeded with (seed, epoch): the same seed and epoch always give the
/// same order, whatever was drawn before. Throws ValueError for a negative size.
class RandomSampler : public Sampler {
 public:
  RandomSampler(std::int64_t size, std::uint64_t seed);
  std::int64_t size() const override { return size_; }
  std::vector<std::int64_t> indices(std::uint64_t epoch) const override;

 private:
  std::int64_t size_;
  std::uint64_t seed_;
};

}  // namespace tether::data
