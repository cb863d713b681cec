// Embedding: a lookup table of learned vectors.
#pragma once

#include <cstdint>

#include "tether/nn/module.h"

namespace tether::nn {

/// Row i of weight [num_embeddings, embedding_dim] for index i. The weight
/// starts N(0, 1), as in PyTorch; its gradient sums the output gradients of
/// every position that picked a row.
class Embedding : public UnaryModule {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, TensorOptions options = {});

  /// indices (i64, any shape) -> [*indices.shape, embedding_dim]. Throws
  /// DTypeError for other dtypes and IndexError for an index outside
  /// [0, num_embeddings).
  Tensor forward(const Tensor& indices) override;

  std::shared_ptr<Parameter> weight;
};

}  // namespace tether::nn
