// Embedding: a lookup table of learned vectors.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "tether/nn/module.h"

namespace tether::nn {

/// Row i of weight [num_embeddings, embedding_dim] for index i. The weight
/// starts N(0, 1), as in PyTorch; its gradient sums the output gradients of
/// every position that picked a row.
///
/// With padding_idx (negative counts from the end, as in torch), that row
/// starts as zeros and gets no gradient: positions holding it (the padding
/// of shorter sequences) look it up but do not train it.
class Embedding : public UnaryModule {
 public:
  /// Throws ValueError for extents that are not positive or a padding_idx
  /// outside [-num_embeddings, num_embeddings).
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
            std::optional<std::int64_t> padding_idx, TensorOptions options);
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, TensorOptions options = {})
      : Embedding(num_embeddings, embedding_dim, std::nullopt, options) {}
  /// With a padding_idx given as an integer, std::nullopt or an optional.
  /// A template so that `Embedding(n, d, {})` means default options, as with
  /// the other layers, instead of being ambiguous with an empty padding_idx.
  template <class Index>
  requires std::convertible_to<Index, std::optional<std::int64_t>> &&
      (!std::same_as<std::remove_cvref_t<Index>, bool>)Embedding(std::int64_t num_embeddings,
                                                                 std::int64_t embedding_dim,
                                                                 Index&& padding_idx,
                                                                 TensorOptions options = {})
      : Embedding(num_embeddings, embedding_dim,
                  std::optional<std::int64_t>(std::forward<Index>(padding_idx)), options) {}

  /// indices (i64, any shape) -> [*indices.shape, embedding_dim]. Throws
  /// DTypeError for other dtypes and IndexError for an index outside
  /// [0, num_embeddings).
  Tensor forward(const Tensor& indices) override;

  /// The padding row, in [0, num_embeddings), if any.
  std::optional<std::int64_t> padding_idx() const { return padding_idx_; }

  std::shared_ptr<Parameter> weight;

 private:
  std::optional<std::int64_t> padding_idx_;
};

}  // namespace tether::nn
