#include "tether/distributed/sharding.h"

#include "tether/distributed/distributed.h"
#include "tether/error.h"

namespace tether::distributed {

std::vector<std::int64_t> shard_indices(std::int64_t dataset_size, int rank, int world_size,
                                        std::int64_t epoch, const ShardOptions& options) {
  if (dataset_size < 0)
    fail<ValueError>("shard_indices: dataset_size must be >= 0, got ", dataset_size);
  if (epoch < 0) fail<ValueError>("shard_indices: epoch must be >= 0, got ", epoch);
  if (world_size < 1 || rank < 0 || rank >= world_size)
    fail<ValueError>("shard_indices: expected 0 <= rank < world_size, got rank ", rank,
                     " of world_size ", world_size);
  // One shuffle for the project: a shuffled DataLoader's (RandomSampler's), so
  // that a world of one rank visits the order a plain loader would.
  const std::vector<std::int64_t> order = options.shuffle
                                              ? data::RandomSampler(dataset_size, options.seed)
                                                    .indices(static_cast<std::uint64_t>(epoch))
                                              : data::SequentialSampler(dataset_size).indices(0);
  const std::int64_t ranks = world_size;
  const std::int64_t per_rank =
      options.drop_last ? dataset_size / ranks : (dataset_size + ranks - 1) / ranks;
  std::vector<std::int64_t> shard;
  shard.reserve(per_rank);
  for (std::int64_t k = 0; k < per_rank && dataset_size > 0; ++k)
    shard.push_back(order[(rank + k * ranks) % dataset_size]);
  return shard;
}

DistributedSampler::DistributedSampler(std::int64_t dataset_size, const ShardOptions& options)
    : DistributedSampler(dataset_size, rank(), world_size(), options) {}

DistributedSampler::DistributedSampler(std::int64_t dataset_size, int rank, int world_size,
                                       const ShardOptions& options)
    : dataset_size_(dataset_size),
      rank_(rank),
      world_size_(world_size),
      options_(options),
      size_(static_cast<std::int64_t>(
          shard_indices(dataset_size, rank, world_size, 0, options).size())) {}

std::vector<std::int64_t> DistributedSampler::indices(std::uint64_t epoch) const {
  return shard_indices(dataset_size_, rank_, world_size_, static_cast<std::int64_t>(epoch),
                       options_);
}

}  // namespace tether::distributed
