// Datasets: indexed collections of examples, and how examples become a batch.
//
//   data::TensorDataset dataset(images, labels);  // example i: {images[i], labels[i]}
//   data::Example first = dataset.get(0);          // {image [1, 8, 8], label []}
//   data::Batch batch = dataset.get_batch({0, 1}); // {images [2, 1, 8, 8], labels [2]}
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "tether/tensor.h"

namespace tether::data {

/// One example: its tensors in the dataset's order (by convention the inputs,
/// then the target).
using Example = std::vector<Tensor>;

/// A batch: the examples' tensors, each stacked along a new leading dimension
/// by default_collate, or whatever a custom collate function makes of them.
using Batch = std::vector<Tensor>;

/// Turns the examples of one batch into the batch.
using Collate = std::function<Batch(std::vector<Example>)>;

/// Stacks the examples position by position: batch[j] = stack(example[j] for
/// each example), as torch's default_collate does for tuples of tensors.
/// Throws ValueError naming default_collate for no examples or examples with
/// different numbers of tensors, ShapeError for tensors that do not stack.
Batch default_collate(std::vector<Example> examples);

/// An indexed collection of examples, read by index from 0 to size() - 1. A
/// DataLoader may call get and get_batch from its prefetch thread while the
/// caller trains, so they must not change shared state without a lock.
class Dataset {
 public:
  virtual ~Dataset() = default;

  /// The number of examples.
  virtual std::int64_t size() const = 0;

  /// Example `index`, in [0, size()); throws IndexError otherwise.
  virtual Example get(std::int64_t index) const = 0;

  /// The examples at `indices` as one batch. By default default_collate of
  /// get(i) for each index; a dataset that can gather a batch at once (as
  /// TensorDataset does with index_select) overrides it.
  virtual Batch get_batch(std::span<const std::int64_t> indices) const;
};

/// The dataset whose example i is {tensors[0][i], tensors[1][i], ...}: the
/// first dimension of every tensor indexes the examples, as in
/// torch.utils.data.TensorDataset.
class TensorDataset : public Dataset {
 public:
  /// Throws ValueError naming TensorDataset for no tensors, ShapeError for a
  /// 0-d tensor or tensors of different first extents.
  explicit TensorDataset(std::vector<Tensor> tensors);
  template <class... Tensors>
  requires(sizeof...(Tensors) > 0 &&
           (std::convertible_to<Tensors, Tensor> && ...)) explicit TensorDataset(Tensors... tensors)
      : TensorDataset(std::vector<Tensor>{tensors...}) {}

  std::int64_t size() const override;
  Example get(std::int64_t index) const override;
  /// index_select of every tensor: the same batch as stacking the examples, in
  /// one copy per tensor.
  Batch get_batch(std::span<const std::int64_t> indices) const override;

  const std::vector<Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<Tensor> tensors_;
};

}  // namespace tether::data
