// Sorting and selection along a dim: sort, argsort, topk, max and min. One
// kernel (Backend::sort) orders each slice and keeps its first k elements;
// max and min take their indices from argmax and argmin. The values' node
// sends each gradient back to the position its value came from, which is
// gather's backward, so second derivatives come with it.
#include <functional>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// Records `values`, the elements of x at `indices` along d (both of x's
/// rank), as the output of op `name`.
Tensor record_selected(const char* name, const Tensor& x, int d, const Tensor& values,
                       const Tensor& indices) {
  return record(name, {x}, values, {indices},
                [d, shape = x.shape()](Node& n, const Tensor& g) -> GradList {
                  return {gather_backward(g, shape, d, n.saved(0))};
                });
}

/// select(x, d) for x of rank >= 1 and d its wrapped dim. A 0-d x, whose one
/// slice along dim 0 (or -1) is its element, runs as [1] and its results come
/// back 0-d, as in PyTorch.
ValuesAndIndices along_dim(const char* name, const Tensor& x, std::int64_t dim,
                           const std::function<ValuesAndIndices(const Tensor&, int)>& select) {
  check_defined(name, x);
  const int d = wrap_dim(name, dim, x.dim());
  if (x.dim() > 0) return select(x, d);
  const ValuesAndIndices result = select(reshape(x, {1}), 0);
  return {reshape(result.values, {}), reshape(result.indices, {})};
}

/// The first k elements of each slice of x along d, in order.
ValuesAndIndices sorted_slices(const char* name, const Tensor& x, int d, std::int64_t k,
                               bool descending) {
  Shape shape = x.shape();
  shape[d] = k;
  Tensor values = Tensor::empty(shape, x.dtype(), x.device(), name);
  Tensor indices = Tensor::empty(shape, DType::i64, x.device(), name);
  backend_of(x).sort(x, d, k, descending, values, indices);
  return {record_selected(name, x, d, values, indices), indices};
}

/// max (largest) or min along dim with its index.
ValuesAndIndices extreme(const char* name, bool largest, const Tensor& x, std::int64_t dim,
                         bool keepdim) {
  return along_dim(name, x, dim, [&](const Tensor& x, int d) -> ValuesAndIndices {
    Shape kept = x.shape();
    kept[d] = 1;
    if (x.size(d) == 0 && kept.numel() > 0)
      fail<IndexError>(name, ": cannot reduce over dimension ", d, " of shape ", x.shape(),
                       ", which is empty (the extreme of no elements is undefined)");
    Tensor indices = largest ? argmax(x, d, true) : argmin(x, d, true);
    Tensor values = Tensor::empty(kept, x.dtype(), x.device(), name);
    backend_of(x).gather(x, d, indices, values);
    values = record_selected(name, x, d, values, indices);
    if (keepdim) return {values, indices};
    return {squeeze(values, d), squeeze(indices, d)};
  });
}

}  // namespace

ValuesAndIndices sort(const Tensor& x, std::int64_t dim, bool descending,
                      [[maybe_unused]] bool stable) {
  return along_dim("sort", x, dim, [descending](const Tensor& x, int d) {
    return sorted_slices("sort", x, d, x.size(d), descending);
  });
}

Tensor argsort(const Tensor& x, std::int64_t dim, bool descending, [[maybe_unused]] bool stable) {
  return along_dim("argsort", x, dim,
                   [descending](const Tensor& x, int d) {
                     return sorted_slices("argsort", x.detach(), d, x.size(d), descending);
                   })
      .indices;
}

ValuesAndIndices topk(const Tensor& x, std::int64_t k, std::int64_t dim, bool largest,
                      [[maybe_unused]] bool sorted) {
  return along_dim("topk", x, dim, [k, largest](const Tensor& x, int d) {
    if (k < 0 || k > x.size(d))
      fail<IndexError>("topk: k = ", k, " is out of range for dimension ", d, " of size ",
                       x.size(d), " (expected 0 <= k <= ", x.size(d), ")");
    return sorted_slices("topk", x, d, k, largest);
  });
}

ValuesAndIndices max(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme("max", true, x, dim, keepdim);
}

ValuesAndIndices min(const Tensor& x, std::int64_t dim, bool keepdim) {
  return extreme("min", false, x, dim, keepdim);
}

}  // namespace tether
