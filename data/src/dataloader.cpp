#include "tether/data/dataloader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <span>
#include <thread>

#include "tether/error.h"
#include "tether/grad_mode.h"

namespace tether::data {

/// One pass over the data: the epoch's index order cut into batches, made on
/// demand or by a worker thread that keeps up to `prefetch` of them queued.
class DataLoader::Epoch {
 public:
  Epoch(std::shared_ptr<const Dataset> dataset, const DataLoaderOptions& options,
        std::vector<std::int64_t> order, std::int64_t batches)
      : dataset_(std::move(dataset)),
        collate_(options.collate),
        batch_size_(options.batch_size),
        order_(std::move(order)),
        batches_(batches),
        prefetch_(options.prefetch) {
    if (prefetch_ > 0) worker_ = std::thread([this] { produce(); });
  }

  Epoch(const Epoch&) = delete;
  Epoch& operator=(const Epoch&) = delete;

  /// Stops the worker (a loop left early) and waits for the batch it is making.
  ~Epoch() {
    if (!worker_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    space_.notify_one();
    worker_.join();
  }

  /// The next batch, or nothing after the last. Rethrows what making it threw.
  std::optional<Batch> next() {
    if (next_ == batches_) return std::nullopt;
    if (!worker_.joinable()) return make(next_++);
    Prepared prepared;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return !queue_.empty(); });
      prepared = std::move(queue_.front());
      queue_.pop_front();
    }
    space_.notify_one();
    ++next_;
    if (prepared.error) {
      next_ = batches_;  // the worker has stopped: the epoch ends here
      std::rethrow_exception(prepared.error);
    }
    return std::move(prepared.batch);
  }

 private:
  struct Prepared {
    Batch batch;
    std::exception_ptr error;
  };

  Batch make(std::int64_t batch) const {
    // Batches are data, not part of a model's graph; the worker's grad mode is
    // its own (thread-local), so both paths set it alike.
    NoGradGuard no_grad;
    const std::int64_t first = batch * batch_size_;
    const std::int64_t count =
        std::min(batch_size_, static_cast<std::int64_t>(order_.size()) - first);
    const std::span<const std::int64_t> indices(order_.data() + first,
                                                static_cast<std::size_t>(count));
    if (!collate_) return dataset_->get_batch(indices);
    std::vector<Example> examples;
    examples.reserve(indices.size());
    for (const std::int64_t index : indices) examples.push_back(dataset_->get(index));
    return collate_(std::move(examples));
  }

  /// The worker: waits for room in the queue, makes the next batch outside
  /// the lock, queues it; stops after the last batch, an error, or a stop.
  void produce() {
    for (std::int64_t batch = 0; batch < batches_; ++batch) {
      {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [this] {
          return stopping_ || static_cast<std::int64_t>(queue_.size()) < prefetch_;
        });
        if (stopping_) return;
      }
      Prepared prepared;
      try {
        prepared.batch = make(batch);
      } catch (...) {
        prepared.error = std::current_exception();
      }
      const bool failed = prepared.error != nullptr;
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(prepared));
      }
      ready_.notify_one();
      if (failed) return;
    }
  }

  const std::shared_ptr<const Dataset> dataset_;
  const Collate collate_;
  const std::int64_t batch_size_;
  const std::vector<std::int64_t> order_;
  const std::int64_t batches_;
  const std::int64_t prefetch_;
  std::int64_t next_ = 0;  // the caller's position; only the caller touches it

  std::mutex mutex_;
  std::condition_variable ready_;  // a batch was queued
  std::condition_variable space_;  // a batch was taken, or stopping_ was set
  std::deque<Prepared> queue_;     // guarded by mutex_
  bool stopping_ = false;          // guarded by mutex_
  std::thread worker_;             // last: it starts once the members above exist
};

DataLoader::Iterator::Iterator(std::shared_ptr<Epoch> epoch)
    : epoch_(std::move(epoch)), batch_(epoch_->next()) {}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  batch_.reset();  // frees the batch before the next one arrives
  batch_ = epoch_->next();
  return *this;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (!dataset_) fail<ValueError>("DataLoader: expected a dataset, got a null pointer");
  if (options_.batch_size <= 0)
    fail<ValueError>("DataLoader: expected a positive batch_size, got ", options_.batch_size);
  if (options_.prefetch < 0)
    fail<ValueError>("DataLoader: expected a non-negative prefetch, got ", options_.prefetch);
  if (!options_.sampler) {
    if (options_.shuffle)
      options_.sampler = std::make_shared<RandomSampler>(dataset_->size(), options_.seed);
    else
      options_.sampler = std::make_shared<SequentialSampler>(dataset_->size());
  }
}

std::int64_t DataLoader::size() const {
  return batches(options_.sampler->size());
}

DataLoader::Iterator DataLoader::begin() {
  std::vector<std::int64_t> order = options_.sampler->indices(epoch_++);
  const std::int64_t count = batches(static_cast<std::int64_t>(order.size()));
  return Iterator(std::make_shared<Epoch>(dataset_, options_, std::move(order), count));
}

std::int64_t DataLoader::batches(std::int64_t examples) const {
  const std::int64_t full = examples / options_.batch_size;
  return options_.drop_last || examples % options_.batch_size == 0 ? full : full + 1;
}

}  // namespace tether::data
