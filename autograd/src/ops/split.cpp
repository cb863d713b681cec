// Splitting along a dim: split, chunk and unbind. The parts are views of x,
// recorded as one node with an output per part. Its backward receives the
// gradients of all parts at once and joins them (zeros for a part that no
// gradient reached) with one cat, or one stack for unbind's parts: O(size)
// work in all, where a node per part would pad each part's gradient to x's
// whole size.
#include <algorithm>
#include <span>
#include <string>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// The dim of x that op `name` splits, wrapped; a 0-d x has none.
int split_dim(const char* name, const Tensor& x, std::int64_t dim) {
  check_defined(name, x);
  if (x.dim() == 0) fail<IndexError>(name, ": cannot split a 0-d tensor");
  return wrap_dim(name, dim, x.dim());
}

/// x's consecutive parts of `sizes` along d, as views recorded by one node of
/// op `name`; with `drop_dim` (unbind) every size is 1 and the parts lose d.
std::vector<Tensor> split_views(const char* name, const Tensor& x, int d,
                                const std::vector<std::int64_t>& sizes, bool drop_dim) {
  std::vector<Tensor> parts;
  parts.reserve(sizes.size());
  std::int64_t start = 0;
  for (const std::int64_t size : sizes) {
    Shape shape = x.shape();
    Strides strides = x.strides();
    shape[d] = size;
    if (drop_dim) {
      shape.erase(d);
      strides.erase(d);
    }
    parts.push_back(
        Tensor::view_of(x, shape, strides, x.storage_offset() + start * x.strides()[d], name));
    start += size;
  }
  return record_outputs(
      name, {x}, std::move(parts), {},
      [d, sizes, drop_dim, shape = x.shape()](Node&, std::span<const Tensor> grads) -> GradList {
        // The engine runs a node once a gradient reached any of its outputs:
        // the zeros for the other parts take that gradient's dtype and device.
        const auto reached =
            std::find_if(grads.begin(), grads.end(), [](const Tensor& g) { return g.defined(); });
        const TensorOptions options = reached->options();
        std::vector<Tensor> pieces;
        pieces.reserve(grads.size());
        for (std::size_t k = 0; k < grads.size(); ++k) {
          if (grads[k].defined()) {
            pieces.push_back(grads[k]);
            continue;
          }
          Shape part = shape;
          part[d] = sizes[k];
          if (drop_dim) part.erase(d);
          pieces.push_back(zeros(part, options));
        }
        return {drop_dim ? stack(pieces, d) : cat(pieces, d)};
      });
}

/// Sizes of `part` along an extent of `size`, the last one smaller if needed;
/// one empty part for an empty extent (as PyTorch's).
std::vector<std::int64_t> equal_parts(std::int64_t size, std::int64_t part) {
  if (size == 0) return {0};
  std::vector<std::int64_t> sizes;
  for (std::int64_t left = size; left > 0; left -= sizes.back())
    sizes.push_back(std::min(part, left));
  return sizes;
}

/// "[2, 3, 1]", for messages (a Shape holds at most 8 extents).
std::string list(const std::vector<std::int64_t>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i)
    text += (i ? ", " : "") + std::to_string(values[i]);
  return text + "]";
}

}  // namespace

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  const int d = split_dim("split", x, dim);
  const std::int64_t size = x.size(d);
  if (split_size < 0 || (split_size == 0 && size > 0))
    fail<ValueError>("split: expected a split_size >= 1 (0 only for an empty dimension), got ",
                     split_size, " for dimension ", d, " of size ", size);
  return split_views("split", x, d, equal_parts(size, split_size), false);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sections,
                          std::int64_t dim) {
  const int d = split_dim("split", x, dim);
  // Taken from the size one by one, so that no sum can overflow.
  std::int64_t left = x.size(d);
  bool fits = true;
  for (const std::int64_t size : sections) {
    fits = size >= 0 && size <= left;
    if (!fits) break;
    left -= size;
  }
  if (!fits || left != 0)
    fail<ValueError>("split: expected sections >= 0 that sum to the size ", x.size(d),
                     " of dimension ", d, ", got ", list(sections));
  return split_views("split", x, d, sections, false);
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  const int d = split_dim("chunk", x, dim);
  if (chunks < 1) fail<ValueError>("chunk: expected chunks >= 1, got ", chunks);
  const std::int64_t size = x.size(d);
  const std::int64_t part = size / chunks + (size % chunks != 0);  // ceil, without overflow
  return split_views("chunk", x, d, equal_parts(size, part), false);
}

std::vector<Tensor> unbind(const Tensor& x, std::int64_t dim) {
  const int d = split_dim("unbind", x, dim);
  return split_views("unbind", x, d, std::vector<std::int64_t>(x.size(d), 1), true);
}

}  // namespace tether
