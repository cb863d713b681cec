#include "tether/data/dataset.h"

#include <algorithm>
#include <cstddef>

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::data {

Batch default_collate(std::vector<Example> examples) {
  if (examples.empty())
    fail<ValueError>("default_collate: expected at least one example, got none");
  const std::size_t width = examples.front().size();
  Batch batch;
  batch.reserve(width);
  std::vector<Tensor> column(examples.size());
  for (std::size_t j = 0; j < width; ++j) {
    for (std::size_t i = 0; i < examples.size(); ++i) {
      if (examples[i].size() != width)
        fail<ValueError>("default_collate: example 0 has ", width, " tensors but example ", i,
                         " has ", examples[i].size());
      column[i] = std::move(examples[i][j]);
    }
    batch.push_back(stack(column));
  }
  return batch;
}

Batch Dataset::get_batch(std::span<const std::int64_t> indices) const {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (const std::int64_t index : indices) examples.push_back(get(index));
  return default_collate(std::move(examples));
}

TensorDataset::TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  if (tensors_.empty()) fail<ValueError>("TensorDataset: expected at least one tensor, got none");
  for (std::size_t j = 0; j < tensors_.size(); ++j) {
    check_defined("TensorDataset", tensors_[j]);
    if (tensors_[j].dim() == 0)
      fail<ShapeError>("TensorDataset: tensor ", j,
                       " is 0-d; the first dimension indexes the examples");
    if (tensors_[j].size(0) != tensors_[0].size(0))
      fail<ShapeError>("TensorDataset: tensor 0 ", tensors_[0].shape(), " and tensor ", j, " ",
                       tensors_[j].shape(), " hold different numbers of examples");
  }
}

std::int64_t TensorDataset::size() const {
  return tensors_[0].size(0);
}

Example TensorDataset::get(std::int64_t index) const {
  if (index < 0 || index >= size())
    fail<IndexError>("TensorDataset: index ", index, " is out of range for ", size(), " examples");
  Example example;
  example.reserve(tensors_.size());
  for (const Tensor& t : tensors_) example.push_back(t.select(0, index));
  return example;
}

Batch TensorDataset::get_batch(std::span<const std::int64_t> indices) const {
  Tensor index = Tensor::empty({static_cast<std::int64_t>(indices.size())}, DType::i64);
  std::copy(indices.begin(), indices.end(), index.data_ptr<std::int64_t>());
  Batch batch;
  batch.reserve(tensors_.size());
  for (const Tensor& t : tensors_) batch.push_back(index_select(t, 0, index.to(t.device())));
  return batch;
}

}  // namespace tether::data
