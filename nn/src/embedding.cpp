#include "tether/nn/embedding.h"

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
                     TensorOptions options) {
  if (num_embeddings <= 0 || embedding_dim <= 0)
    fail<ValueError>("Embedding: expected positive num_embeddings and embedding_dim, got ",
                     num_embeddings, " and ", embedding_dim);
  register_parameter("weight", weight,
                     randn({num_embeddings, embedding_dim}, options.with_requires_grad(false)));
}

Tensor Embedding::forward(const Tensor& indices) {
  if (indices.dtype() != DType::i64)
    fail<DTypeError>("Embedding: expected i64 indices, got ", indices.dtype());
  const Tensor table = weight->value();
  Shape shape = indices.shape();
  shape.push_back(table.size(1));
  // index_select takes a 1-d index; its backward scatter-adds into the rows.
  try {
    return index_select(table, 0, indices.reshape({-1})).reshape(shape);
  } catch (const IndexError& e) {
    fail<IndexError>("Embedding: expected indices in [0, ", table.size(0), "); ", e.what());
  }
}

}  // namespace tether::nn
