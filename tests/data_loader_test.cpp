// data/: TensorDataset, the samplers and the DataLoader, its prefetch thread included.
#include <tether/tether.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <numeric>
#include <set>

using namespace tether;
using Catch::Matchers::Contains;

namespace {

/// Ten examples: x[i] = {i, 10 i} (f64), y[i] = i (i64).
data::TensorDataset ten_examples() {
  const Tensor y = arange(10);
  return data::TensorDataset(stack({y.to(DType::f64), y.to(DType::f64) * 10}, 1), y);
}

/// Every batch's labels, in the order the loader gives them.
std::vector<std::vector<std::int64_t>> labels_of_one_epoch(data::DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> labels;
  for (const data::Batch& batch : loader) labels.push_back(batch[1].to_vector<std::int64_t>());
  return labels;
}

/// Example i is {i}, except that get(bad) throws: a dataset that fails midway.
class FailingDataset : public data::Dataset {
 public:
  explicit FailingDataset(std::int64_t bad) : bad_(bad) {}
  std::int64_t size() const override { return 8; }
  data::Example get(std::int64_t index) const override {
    if (index == bad_) fail<ValueError>("FailingDataset: example ", index, " is unreadable");
    return {scalar_tensor(static_cast<double>(index), DType::f64)};
  }

 private:
  std::int64_t bad_;
};

/// Counts the examples it has handed out, from whichever thread asks.
class CountingDataset : public data::Dataset {
 public:
  std::int64_t size() const override { return 1000; }
  data::Example get(std::int64_t index) const override {
    ++reads;
    return {scalar_tensor(static_cast<double>(index), DType::f64)};
  }
  mutable std::atomic<std::int64_t> reads{0};
};

}  // namespace

TEST_CASE("TensorDataset gives example i as the i-th slice of each tensor", "[data]") {
  const auto dataset = ten_examples();
  CHECK(dataset.size() == 10);
  const data::Example example = dataset.get(3);
  REQUIRE(example.size() == 2);
  CHECK(example[0].to_vector<double>() == std::vector<double>{3, 30});
  CHECK(example[1].dim() == 0);
  CHECK(example[1].item<std::int64_t>() == 3);
  CHECK_THROWS_AS(dataset.get(10), IndexError);
  CHECK_THROWS_WITH(dataset.get(-1), Contains("TensorDataset: index -1 is out of range for 10"));
}

TEST_CASE("TensorDataset's gathered batch equals stacking its examples", "[data]") {
  const auto dataset = ten_examples();
  const std::vector<std::int64_t> indices{7, 2, 5};
  const data::Batch gathered = dataset.get_batch(indices);
  const data::Batch stacked =
      data::default_collate({dataset.get(7), dataset.get(2), dataset.get(5)});
  REQUIRE(gathered.size() == 2);
  CHECK(gathered[0].shape() == Shape{3, 2});
  CHECK(gathered[0].to_vector<double>() == stacked[0].to_vector<double>());
  CHECK(gathered[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 2, 5});
  CHECK(stacked[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 2, 5});
}

TEST_CASE("TensorDataset and default_collate refuse what they cannot index or stack", "[data]") {
  CHECK_THROWS_WITH(data::TensorDataset(std::vector<Tensor>{}),
                    Contains("TensorDataset: expected at least one tensor"));
  CHECK_THROWS_WITH(data::TensorDataset(zeros({3}), zeros({4})),
                    Contains("TensorDataset: tensor 0 [3] and tensor 1 [4]"));
  CHECK_THROWS_AS(data::TensorDataset(scalar_tensor(1.0)), ShapeError);
  CHECK_THROWS_WITH(data::default_collate({}), Contains("default_collate: expected at least one"));
  CHECK_THROWS_WITH(data::default_collate({{zeros({2})}, {zeros({2}), zeros({2})}}),
                    Contains("default_collate: example 0 has 1 tensors but example 1 has 2"));
}

TEST_CASE("SequentialSampler visits 0..n-1 and RandomSampler a seeded permutation per epoch",
          "[data]") {
  CHECK(data::SequentialSampler(4).indices(3) == std::vector<std::int64_t>{0, 1, 2, 3});
  const data::RandomSampler sampler(50, 7);
  const auto epoch0 = sampler.indices(0);
  auto sorted = epoch0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  CHECK(sorted == all);
  CHECK(sampler.indices(0) == epoch0);                     // a pure function of the epoch
  CHECK(data::RandomSampler(50, 7).indices(0) == epoch0);  // and of the seed
  CHECK(sampler.indices(1) != epoch0);
  CHECK(data::RandomSampler(50, 8).indices(0) != epoch0);
  CHECK_THROWS_WITH(data::RandomSampler(-1, 0), Contains("RandomSampler: expected a non-negative"));
}

TEST_CASE("DataLoader batches in order and keeps or drops the short last batch", "[data]") {
  data::DataLoader loader(ten_examples(), {.batch_size = 4});
  CHECK(loader.size() == 3);
  CHECK(labels_of_one_epoch(loader) ==
        std::vector<std::vector<std::int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
  data::DataLoader dropping(ten_examples(), {.batch_size = 4, .drop_last = true});
  CHECK(dropping.size() == 2);
  CHECK(labels_of_one_epoch(dropping).size() == 2);
  const data::Batch first = *data::DataLoader(ten_examples(), {.batch_size = 4}).begin();
  CHECK(first[0].shape() == Shape{4, 2});
  CHECK(first[0].dtype() == DType::f64);
}

TEST_CASE("a shuffled DataLoader visits every example once per epoch, in a new seeded order",
          "[data]") {
  data::DataLoader loader(ten_examples(), {.batch_size = 3, .shuffle = true, .seed = 5});
  const auto flatten = [](const std::vector<std::vector<std::int64_t>>& batches) {
    std::vector<std::int64_t> all;
    for (const auto& batch : batches) all.insert(all.end(), batch.begin(), batch.end());
    return all;
  };
  const auto epoch0 = flatten(labels_of_one_epoch(loader));
  const auto epoch1 = flatten(labels_of_one_epoch(loader));
  CHECK(loader.epoch() == 2);
  CHECK(epoch0 == data::RandomSampler(10, 5).indices(0));
  CHECK(epoch1 == data::RandomSampler(10, 5).indices(1));
  loader.set_epoch(0);
  CHECK(flatten(labels_of_one_epoch(loader)) == epoch0);
}

TEST_CASE("DataLoader's collate function makes the batches", "[data]") {
  data::DataLoader loader(ten_examples(),
                          {.batch_size = 5, .collate = [](std::vector<data::Example> examples) {
                             std::vector<Tensor> labels;
                             for (auto& example : examples) labels.push_back(example[1]);
                             return data::Batch{sum(stack(labels))};
                           }});
  std::vector<std::int64_t> sums;
  for (const data::Batch& batch : loader) sums.push_back(batch[0].item<std::int64_t>());
  CHECK(sums == std::vector<std::int64_t>{0 + 1 + 2 + 3 + 4, 5 + 6 + 7 + 8 + 9});
}

TEST_CASE("DataLoader with prefetch gives the same batches as without", "[data]") {
  for (const std::int64_t prefetch : {1, 2, 8}) {
    data::DataLoader plain(ten_examples(), {.batch_size = 3, .shuffle = true, .seed = 1});
    data::DataLoader prefetching(
        ten_examples(), {.batch_size = 3, .shuffle = true, .seed = 1, .prefetch = prefetch});
    for (int epoch = 0; epoch < 3; ++epoch)
      CHECK(labels_of_one_epoch(prefetching) == labels_of_one_epoch(plain));
  }
}

TEST_CASE(
    "an exception while making a batch reaches the loop at that batch, with or without "
    "prefetch",
    "[data]") {
  for (const std::int64_t prefetch : {0, 2}) {
    data::DataLoader loader(FailingDataset(5), {.batch_size = 2, .prefetch = prefetch});
    std::vector<double> seen;
    const auto run = [&] {
      for (const data::Batch& batch : loader)
        for (double v : batch[0].to_vector<double>()) seen.push_back(v);
    };
    CHECK_THROWS_WITH(run(), Contains("FailingDataset: example 5 is unreadable"));
    CHECK(seen == std::vector<double>{0, 1, 2, 3});
    // The loader is still usable: the next epoch fails at the same place.
    seen.clear();
    CHECK_THROWS_AS(run(), ValueError);
    CHECK(seen.size() == 4);
  }
}

TEST_CASE("leaving a prefetching loop early stops its thread, which read only a few batches ahead",
          "[data]") {
  const auto dataset = std::make_shared<CountingDataset>();
  data::DataLoader loader(dataset, {.batch_size = 10, .prefetch = 2});
  std::int64_t batches = 0;
  for (const data::Batch& batch : loader) {
    CHECK(batch[0].shape() == Shape{10});
    if (++batches == 3) break;
  }
  // At most the 3 batches taken, the 2 queued and one being made when the loop left.
  CHECK(dataset->reads.load() <= 60);
  CHECK(dataset->reads.load() >= 30);
  // A loop that never looks at a batch also starts and stops cleanly.
  { const auto unused = loader.begin(); }
}

TEST_CASE("DataLoader refuses a null dataset, a non-positive batch_size or a negative prefetch",
          "[data]") {
  CHECK_THROWS_WITH(data::DataLoader(std::shared_ptr<const data::Dataset>()),
                    Contains("DataLoader: expected a dataset, got a null pointer"));
  CHECK_THROWS_WITH(data::DataLoader(ten_examples(), {.batch_size = 0}),
                    Contains("DataLoader: expected a positive batch_size, got 0"));
  CHECK_THROWS_WITH(data::DataLoader(ten_examples(), {.prefetch = -1}),
                    Contains("DataLoader: expected a non-negative prefetch, got -1"));
}

TEST_CASE("DataLoader takes the order of a custom sampler", "[data]") {
  class EvenIndices : public data::Sampler {
   public:
    std::int64_t size() const override { return 5; }
    std::vector<std::int64_t> indices(std::uint64_t) const override { return {0, 2, 4, 6, 8}; }
  };
  data::DataLoader loader(ten_examples(),
                          {.batch_size = 2, .sampler = std::make_shared<EvenIndices>()});
  CHECK(loader.size() == 3);
  CHECK(labels_of_one_epoch(loader) == std::vector<std::vector<std::int64_t>>{{0, 2}, {4, 6}, {8}});
}
