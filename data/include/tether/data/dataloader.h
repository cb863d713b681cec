// DataLoader: a dataset's examples in batches, one epoch per range-for loop.
//
//   data::DataLoader loader(data::TensorDataset(images, labels),
//                           {.batch_size = 32, .shuffle = true, .seed = 7, .prefetch = 2});
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (const data::Batch& batch : loader)       // a new order each epoch
//       train_step(batch[0], batch[1]);
//
// With prefetch > 0 a background thread prepares up to that many batches
// ahead of the loop, in a bounded queue. An exception thrown while preparing
// a batch reaches the loop at that batch; leaving the loop early (break, an
// exception) stops and joins the thread.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "tether/data/dataset.h"
#include "tether/data/sampler.h"

namespace tether::data {

struct DataLoaderOptions {
  /// Examples per batch (positive).
  std::int64_t batch_size = 1;
  /// Visit the examples in a new random order each epoch (RandomSampler of
  /// `seed`), else in index order. Ignored when `sampler` is set.
  bool shuffle = false;
  std::uint64_t seed = 0;
  /// Leave out the last batch when it would be smaller than batch_size.
  bool drop_last = false;
  /// Makes a batch of examples; empty: the dataset's get_batch, which stacks
  /// them (default_collate) unless the dataset gathers batches itself.
  Collate collate = nullptr;
  /// Batches a background thread prepares ahead of the loop; 0 prepares each
  /// batch on the caller's thread when the loop reaches it.
  std::int64_t prefetch = 0;
  /// The order of the examples, instead of shuffle and seed (for instance a
  /// sharding sampler in distributed training).
  std::shared_ptr<const Sampler> sampler = nullptr;
};

class DataLoader {
  class Epoch;  // one pass over the data; owns the prefetch thread

 public:
  struct Sentinel {};

  /// The batches of one epoch, an input iterator. Batches are made without
  /// recording a graph.
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    const Batch& operator*() const { return *batch_; }
    const Batch* operator->() const { return &*batch_; }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(Sentinel) const { return !batch_.has_value(); }

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<Epoch> epoch);

    std::shared_ptr<Epoch> epoch_;
    std::optional<Batch> batch_;
  };

  /// Throws ValueError naming DataLoader for a null dataset, a non-positive
  /// batch_size or a negative prefetch.
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  template <std::derived_from<Dataset> D>
  DataLoader(D dataset, DataLoaderOptions options = {})
      : DataLoader(std::make_shared<const D>(std::move(dataset)), std::move(options)) {}

  /// Batches per epoch: size / batch_size, rounded up unless drop_last.
  std::int64_t size() const;

  /// The epoch that the next begin() runs. Each begin() moves it on by one, so
  /// a shuffled loader visits a new order in each loop.
  std::uint64_t epoch() const { return epoch_; }
  /// Makes the next begin() run epoch `epoch` (to resume a run, or to keep
  /// the ranks of a distributed job in step).
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }

  /// Starts the next epoch (and its prefetch thread) and returns its first batch.
  Iterator begin();
  Sentinel end() const { return {}; }

  const Dataset& dataset() const { return *dataset_; }

 private:
  /// The number of batches that `examples` examples make.
  std::int64_t batches(std::int64_t examples) const;

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::uint64_t epoch_ = 0;
};

}  // namespace tether::data
