#include "tether/nn/embedding.h"

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
                     std::optional<std::int64_t> padding_idx, TensorOptions options) {
  if (num_embeddings <= 0 || embedding_dim <= 0)
    fail<ValueError>("Embedding: expected positive num_embeddings and embedding_dim, got ",
                     num_embeddings, " and ", embedding_dim);
  if (padding_idx) {
    if (*padding_idx < -num_embeddings || *padding_idx >= num_embeddings)
      fail<ValueError>("Embedding: expected padding_idx in [", -num_embeddings, ", ",
                       num_embeddings, "), got ", *padding_idx);
    padding_idx_ = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
  }
  Tensor initial = randn({num_embeddings, embedding_dim}, options.with_requires_grad(false));
  if (padding_idx_) initial.select(0, *padding_idx_).fill_(0.0);
  register_parameter("weight", weight, initial);
}

Tensor Embedding::forward(const Tensor& indices) {
  if (indices.dtype() != DType::i64)
    fail<DTypeError>("Embedding: expected i64 indices, got ", indices.dtype());
  const Tensor table = weight->value();
  Shape shape = indices.shape();
  shape.push_back(table.size(1));
  // index_select takes a 1-d index; its backward scatter-adds into the rows.
  Tensor rows;
  try {
    rows = index_select(table, 0, indices.reshape({-1}));
  } catch (const IndexError& e) {
    fail<IndexError>("Embedding: expected indices in [0, ", table.size(0), "); ", e.what());
  }
  if (padding_idx_) {
    // The padding positions take their value from a detached lookup, so no
    // gradient reaches the padding row through them.
    const Tensor padding = full({}, static_cast<double>(*padding_idx_), indices.options());
    rows = where(ne(indices.reshape({-1, 1}), padding), rows, rows.detach());
  }
  return rows.reshape(shape);
}

}  // namespace tether::nn
