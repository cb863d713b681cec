// Splitting a data set between ranks, as torch's DistributedSampler: each rank
// takes a disjoint share of the indices, reshuffled every epoch in the same way
// on every rank.
#pragma once

#include <cstdint>
#include <vector>

#include "tether/data/sampler.h"

namespace tether::distributed {

struct ShardOptions {
  /// Permute the indices as data::RandomSampler(dataset_size, seed) does in
  /// this epoch (torch: randperm from a generator seeded with seed + epoch; the
  /// permutations differ from torch's, whose generator is another).
  bool shuffle = true;
  std::uint64_t seed = 0;
  /// Drop the tail that does not split evenly, rather than padding the last
  /// shares by repeating indices from the start.
  bool drop_last = false;
};

/// The indices into a data set of `dataset_size` items that rank `rank` of
/// `world_size` visits in `epoch`, as torch's DistributedSampler: the
/// (shuffled) indices, padded by repeating from their start to a multiple of
/// world_size (or cut to one with drop_last), of which rank r takes
/// r, r + world_size, r + 2 world_size, ... Every rank gets the same number of
/// indices; without padding, the ranks' shares are disjoint and cover the data
/// set. The permutation depends on seed and epoch only (its own generator,
/// not the global one), so every rank computes the same. Throws ValueError for
/// a negative size or epoch, a world_size below 1 or a rank outside it.
std::vector<std::int64_t> shard_indices(std::int64_t dataset_size, int rank, int world_size,
                                        std::int64_t epoch, const ShardOptions& options = {});

/// shard_indices as a data::Sampler, torch's DistributedSampler: a DataLoader
/// given it visits this rank's share of the data set, reshuffled each epoch
/// the loader runs, identically on every rank.
///   data::DataLoader loader(dataset, {.batch_size = 32,
///       .sampler = std::make_shared<distributed::DistributedSampler>(dataset.size())});
class DistributedSampler : public data::Sampler {
 public:
  /// Over this process's rank of the MPI world (init() must have run).
  explicit DistributedSampler(std::int64_t dataset_size, const ShardOptions& options = {});
  /// Over rank `rank` of `world_size`; throws as shard_indices does.
  DistributedSampler(std::int64_t dataset_size, int rank, int world_size,
                     const ShardOptions& options = {});

  std::int64_t size() const override { return size_; }
  std::vector<std::int64_t> indices(std::uint64_t epoch) const override;

 private:
  std::int64_t dataset_size_;
  int rank_, world_size_;
  ShardOptions options_;
  std::int64_t size_;
};

}  // namespace tether::distributed
