// shard_indices: torch's DistributedSampler as a function of the index range.
#include <catch2/catch.hpp>

#include "checks.h"

#include <algorithm>
#include <vector>

#include "tether/data/dataloader.h"
#include "tether/data/dataset.h"
#include "tether/distributed/distributed.h"
#include "tether/distributed/sharding.h"
#include "tether/error.h"
#include "tether/ops.h"

using Catch::Matchers::Contains;
using tether::distributed::shard_indices;
using tether::testing::check_throws;
using Indices = std::vector<std::int64_t>;

TEST_CASE("the ranks' shards are disjoint, equal in size and cover the data set", "[sharding]") {
  Indices all;
  for (int rank = 0; rank < 3; ++rank) {
    const Indices shard = shard_indices(12, rank, 3, 0);
    CHECK(shard.size() == 4);
    all.insert(all.end(), shard.begin(), shard.end());
  }
  std::sort(all.begin(), all.end());
  Indices expected(12);
  for (std::int64_t i = 0; i < 12; ++i) expected[i] = i;
  CHECK(all == expected);
}

TEST_CASE("shards are reshuffled per epoch, the same for every caller", "[sharding]") {
  CHECK(shard_indices(100, 0, 2, 3) == shard_indices(100, 0, 2, 3));
  CHECK(shard_indices(100, 0, 2, 3) != shard_indices(100, 0, 2, 4));
  CHECK(shard_indices(100, 0, 2, 3, {.seed = 1}) != shard_indices(100, 0, 2, 3));
}

TEST_CASE("with one rank, the shuffled shard is a shuffled DataLoader's order (RandomSampler's)",
          "[sharding]") {
  for (std::int64_t epoch = 0; epoch < 3; ++epoch)
    CHECK(shard_indices(10, 0, 1, epoch, {.seed = 3}) ==
          tether::data::RandomSampler(10, 3).indices(static_cast<std::uint64_t>(epoch)));
}

TEST_CASE(
    "without shuffling, rank r takes r, r + world, ...; the tail pads from the start as torch's",
    "[sharding]") {
  CHECK(shard_indices(5, 0, 2, 0, {.shuffle = false}) == Indices{0, 2, 4});
  CHECK(shard_indices(5, 1, 2, 0, {.shuffle = false}) == Indices{1, 3, 0});
  CHECK(shard_indices(5, 1, 2, 0, {.shuffle = false, .drop_last = true}) == Indices{1, 3});
  CHECK(shard_indices(1, 2, 4, 0, {.shuffle = false}) == Indices{0});
  CHECK(shard_indices(0, 0, 2, 0).empty());
}

TEST_CASE("shard_indices refuses a rank outside the world, naming both", "[sharding]") {
  check_throws<tether::ValueError>([&] { shard_indices(10, 2, 2, 0); },
                                   Contains("shard_indices") && Contains("rank 2 of world_size 2"));
  check_throws<tether::ValueError>([&] { shard_indices(-1, 0, 2, 0); }, Contains("dataset_size"));
}

TEST_CASE("a DataLoader with a DistributedSampler visits this rank's shard of each epoch",
          "[sharding]") {
  using namespace tether;
  const Tensor values = arange(10);
  const auto sampler = std::make_shared<distributed::DistributedSampler>(
      10, distributed::rank(), distributed::world_size(), distributed::ShardOptions{.seed = 3});
  data::DataLoader loader(data::TensorDataset(values), {.batch_size = 4, .sampler = sampler});
  for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
    Indices visited;
    for (const data::Batch& batch : loader)
      for (const std::int64_t v : batch[0].to_vector<std::int64_t>()) visited.push_back(v);
    CHECK(visited == shard_indices(10, distributed::rank(), distributed::world_size(),
                                   static_cast<std::int64_t>(epoch), {.seed = 3}));
  }
  CHECK(sampler->size() == static_cast<std::int64_t>(sampler->indices(0).size()));
}
