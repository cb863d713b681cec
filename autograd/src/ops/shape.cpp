// Shape ops. Most are views that share storage; each records how to route the
// gradient back (reshape back, transpose back, pad a slice with zeros, ...).
#include <algorithm>
#include <numeric>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

Shape infer_shape(const char* op, const Tensor& x, const Shape& requested) {
  Shape shape = requested;
  int inferred = -1;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) fail<ShapeError>(op, ": only one extent may be -1, got ", requested);
      inferred = i;
      shape[i] = 1;
    } else if (shape[i] < 0) {
      fail<ShapeError>(op, ": invalid extent in ", requested);
    }
  }
  const std::int64_t known = checked_numel(op, shape);  // the -1 taken as 1
  if (inferred >= 0 && known != 0 && x.numel() % known == 0) shape[inferred] = x.numel() / known;
  if (shape.numel() != x.numel() || (inferred >= 0 && known == 0))
    fail<ShapeError>(op, ": cannot reshape a tensor of shape ", x.shape(), " (", x.numel(),
                     " elements) to ", requested);
  return shape;
}

/// Throws IndexError naming `op` for a 0-d x, which has no dimension to take
/// a part of (as in PyTorch); returns dim wrapped.
int sliced_dim(const char* op, const Tensor& x, std::int64_t dim) {
  check_defined(op, x);
  if (x.dim() == 0) fail<IndexError>(op, ": cannot be applied to a 0-d tensor");
  return wrap_dim(op, dim, x.dim());
}

/// The strides of `shape`, every `step`-th element along dimension `dim` of a
/// tensor with `strides`. Where no step is taken (at most one element along
/// dim, or none at all) the stride is kept, as stride * step could overflow
/// for a huge step; where one is, stride * step lies within the tensor.
Strides stepped_strides(Strides strides, int dim, std::int64_t step, const Shape& shape) {
  if (shape[dim] > 1 && shape.numel() > 0) strides[dim] *= step;
  return strides;
}

/// The gradient of a strided slice: `g` placed into zeros of `shape`.
Tensor slice_backward(const Tensor& g, const Shape& shape, int dim, std::int64_t start,
                      std::int64_t step) {
  Tensor out = zeros(shape, g.options());
  const std::int64_t count = g.size(dim);
  const Strides strides = stepped_strides(out.strides(), dim, step, g.shape());
  backend_of(g).copy(g, Tensor::view_of(out, g.shape(), strides, start * out.strides()[dim]));
  // One past the last element taken (start + step * count could overflow).
  const std::int64_t end = count == 0 ? start : start + step * (count - 1) + 1;
  return record("slice_backward", {g}, out, {},
                [dim, start, end, step](Node&, const Tensor& gg) -> GradList {
                  return {slice(gg, dim, start, end, step)};
                });
}

/// The gradient of index_select: rows of `g` added into zeros of `shape`.
Tensor index_select_backward(const Tensor& g, const Shape& shape, int dim, const Tensor& index) {
  Tensor out = zeros(shape, g.options());
  backend_of(g).index_add(out, dim, index, contiguous_data(g));
  return record(
      "index_select_backward", {g}, out, {index},
      [dim](Node& n, const Tensor& gg) -> GradList { return {index_select(gg, dim, n.saved(0))}; });
}

}  // namespace

Tensor ops::gather_backward(const Tensor& g, const Shape& shape, int dim, const Tensor& index) {
  Tensor out = zeros(shape, g.options());
  backend_of(g).scatter_add(out, dim, index, g);
  return record("gather_backward", {g}, out, {index}, [dim](Node& n, const Tensor& gg) -> GradList {
    return {gather(gg, dim, n.saved(0))};
  });
}

namespace {

void check_index(const char* op, const Tensor& index) {
  check_defined(op, index);
  if (index.dtype() != DType::i64)
    fail<DTypeError>(op, ": expected an i64 index tensor, got ", index.dtype());
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", x);
  const Shape target = infer_shape("reshape", x, shape);
  if (target == x.shape()) return x;
  if (view_strides(x, target)) return view(x, target);
  return view(contiguous(x), target);
}

Tensor view(const Tensor& x, const Shape& shape) {
  check_defined("view", x);
  const Shape target = infer_shape("view", x, shape);
  const auto strides = view_strides(x, target);
  if (!strides)
    fail<ShapeError>("view: a tensor of shape ", x.shape(), " and strides ", x.strides(),
                     " cannot be viewed as ", target, "; use reshape()");
  Tensor out = Tensor::view_of(x, target, *strides, x.storage_offset(), "view");
  return record("view", {x}, out, {}, [shape = x.shape()](Node&, const Tensor& g) -> GradList {
    return {reshape(g, shape)};
  });
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  check_defined("flatten", x);
  if (x.dim() == 0) return reshape(x, {1});
  const int start = wrap_dim("flatten", start_dim, x.dim());
  const int end = wrap_dim("flatten", end_dim, x.dim());
  if (start > end)
    fail<IndexError>("flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  // The flattened extents' product, checked: in a tensor without elements it
  // may not fit an int64 (dims 1 and 2 of [0, 2^62, 4]).
  Shape shape, flattened;
  for (int d = 0; d < x.dim(); ++d) {
    if (d < start || d > end) shape.push_back(x.shape()[d]);
    if (d >= start && d <= end) flattened.push_back(x.shape()[d]);
    if (d == end) shape.push_back(checked_numel("flatten", flattened));
  }
  return reshape(x, shape);
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  check_defined("transpose", x);
  const int d0 = wrap_dim("transpose", dim0, x.dim()), d1 = wrap_dim("transpose", dim1, x.dim());
  if (x.dim() < 2) return x;
  Shape shape = x.shape();
  Strides strides = x.strides();
  std::swap(shape[d0], shape[d1]);
  std::swap(strides[d0], strides[d1]);
  Tensor out = Tensor::view_of(x, shape, strides, x.storage_offset(), "transpose");
  return record("transpose", {x}, out, {},
                [d0, d1](Node&, const Tensor& g) -> GradList { return {transpose(g, d0, d1)}; });
}

Tensor permute(const Tensor& x, const Dims& dims) {
  check_defined("permute", x);
  if (dims.size() != x.dim())
    fail<ShapeError>("permute: expected ", x.dim(), " dims for a tensor of shape ", x.shape(),
                     ", got ", dims);
  Shape shape, strides;
  Dims inverse = Shape::filled(x.dim(), -1);
  for (int i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim("permute", dims[i], x.dim());
    if (inverse[d] != -1) fail<ValueError>("permute: dimension ", d, " repeats in ", dims);
    inverse[d] = i;
    shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
  }
  Tensor out = Tensor::view_of(x, shape, strides, x.storage_offset(), "permute");
  return record("permute", {x}, out, {},
                [inverse](Node&, const Tensor& g) -> GradList { return {permute(g, inverse)}; });
}

Tensor squeeze(const Tensor& x) {
  check_defined("squeeze", x);
  Shape shape;
  for (auto d : x.shape())
    if (d != 1) shape.push_back(d);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  check_defined("squeeze", x);
  if (x.dim() == 0) return x;
  const int d = wrap_dim("squeeze", dim, x.dim());
  if (x.shape()[d] != 1) return x;
  Shape shape = x.shape();
  shape.erase(d);
  return reshape(x, shape);
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  check_defined("unsqueeze", x);
  const int d = wrap_dim("unsqueeze", dim, x.dim() + 1);
  Shape shape = x.shape();
  shape.insert(d, 1);
  return reshape(x, shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined("expand", x);
  if (shape.size() < x.dim())
    fail<ShapeError>("expand: cannot expand a tensor of shape ", x.shape(), " to ", shape);
  Shape target = shape;
  const int offset = shape.size() - x.dim();
  for (int i = 0; i < shape.size(); ++i) {
    const std::int64_t have = i >= offset ? x.shape()[i - offset] : 1;
    if (target[i] == -1) target[i] = have;
    if (have != 1 && have != target[i])
      fail<ShapeError>("expand: cannot expand a tensor of shape ", x.shape(), " to ", shape);
  }
  checked_numel("expand", target);
  if (target == x.shape()) return x;
  Tensor out = broadcast_view(x, target);
  return record("expand", {x}, out, {}, [shape = x.shape()](Node&, const Tensor& g) -> GradList {
    return {sum_to_shape(g, shape)};
  });
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step) {
  const int d = sliced_dim("slice", x, dim);
  if (step <= 0) fail<ValueError>("slice: step must be positive, got ", step);
  const std::int64_t size = x.shape()[d];
  auto clip = [size](std::int64_t i) {
    return std::clamp(i < 0 ? i + size : i, std::int64_t{0}, size);
  };
  const std::int64_t first = clip(start), last = std::max(clip(end), first);
  Shape shape = x.shape();
  shape[d] = last == first ? 0 : (last - first - 1) / step + 1;  // ceil, without overflow
  const Strides strides = stepped_strides(x.strides(), d, step, shape);
  Tensor out =
      Tensor::view_of(x, shape, strides, x.storage_offset() + first * x.strides()[d], "slice");
  return record("slice", {x}, out, {},
                [d, first, step, in_shape = x.shape()](Node&, const Tensor& g) -> GradList {
                  return {slice_backward(g, in_shape, d, first, step)};
                });
}

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  const int d = sliced_dim("narrow", x, dim);
  const std::int64_t size = x.shape()[d];
  if (start < 0) start += size;
  // length > size - start, not start + length > size, which could overflow.
  if (start < 0 || start > size || length < 0 || length > size - start)
    fail<IndexError>("narrow: start ", start, " and length ", length, " are outside dimension ", d,
                     " of size ", size);
  return slice(x, d, start, start + length);
}

Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index) {
  const int d = sliced_dim("select", x, dim);
  const std::int64_t size = x.shape()[d];
  if (index < -size || index >= size)
    fail<IndexError>("select: index ", index, " is out of range for dimension ", d, " of size ",
                     size);
  return squeeze(narrow(x, d, index < 0 ? index + size : index, 1), d);
}

Tensor contiguous(const Tensor& x) {
  check_defined("contiguous", x);
  if (x.is_contiguous()) return x;
  return clone(x);
}

Tensor clone(const Tensor& x) {
  check_defined("clone", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device(), "clone");
  backend_of(x).copy(x, out);
  return record("clone", {x}, out, {}, [](Node&, const Tensor& g) -> GradList { return {g}; });
}

Tensor to(const Tensor& x, DType dtype) {
  check_defined("to", x);
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype, x.device(), "to");
  backend_of(x).copy(x, out);
  if (!is_floating(dtype)) return out;
  return record("to", {x}, out, {},
                [dtype = x.dtype()](Node&, const Tensor& g) -> GradList { return {to(g, dtype)}; });
}

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  if (tensors.empty()) fail<ValueError>("cat: expected at least one tensor");
  const Tensor& first = tensors.front();
  check_defined("cat", first);
  const int d = wrap_dim("cat", dim, first.dim());
  Shape shape = first.shape();
  shape[d] = 0;
  ResultType dtype;
  for (const auto& t : tensors) {
    check_defined("cat", t);
    check_same_device("cat", first, t);
    dtype.add(t);
    Shape expected = first.shape();
    expected[d] = t.dim() == first.dim() ? t.shape()[d] : -1;
    if (!(t.shape() == expected))
      fail<ShapeError>("cat: tensors must match except in dimension ", d, ", got ", first.shape(),
                       " and ", t.shape());
    if (__builtin_add_overflow(shape[d], t.shape()[d], &shape[d]))
      fail<ShapeError>("cat: the extents along dimension ", d, " add up to more than 2^63");
  }
  // Mixed dtypes promote, as in torch.cat; the copies convert.
  Tensor out = Tensor::empty(shape, dtype.dtype(), first.device(), "cat");
  std::vector<std::pair<std::int64_t, DType>> parts;  // each input's extent along d, and dtype
  std::int64_t offset = 0;
  for (const auto& t : tensors) {
    Shape part = shape;
    part[d] = t.shape()[d];
    backend_of(t).copy(t, Tensor::view_of(out, part, out.strides(), offset * out.strides()[d]));
    offset += part[d];
    parts.emplace_back(part[d], t.dtype());
  }
  return record("cat", tensors, out, {}, [d, parts](Node&, const Tensor& g) -> GradList {
    GradList grads;
    std::int64_t start = 0;
    for (auto [size, part_dtype] : parts) {
      grads.push_back(to(narrow(g, d, start, size), part_dtype));
      start += size;
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  if (tensors.empty()) fail<ValueError>("stack: expected at least one tensor");
  check_defined("stack", tensors.front());
  const int d = wrap_dim("stack", dim, tensors.front().dim() + 1);
  std::vector<Tensor> parts;
  for (const auto& t : tensors) {
    check_same_device("stack", tensors.front(), t);
    if (!(t.shape() == tensors.front().shape()))
      fail<ShapeError>("stack: all tensors must have one shape, got ", tensors.front().shape(),
                       " and ", t.shape());
    parts.push_back(unsqueeze(t, d));
  }
  return cat(parts, d);
}

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  check_defined("index_select", x);
  check_index("index_select", index);
  if (index.dim() > 1)
    fail<ShapeError>("index_select: expected a 1-d index, got shape ", index.shape());
  const int d = wrap_dim("index_select", dim, x.dim());
  if (x.dim() == 0) {
    // As in PyTorch, a 0-d x is one element along its one dimension, and
    // picking from it leaves it 0-d: exactly one index (which must be 0).
    if (index.numel() != 1)
      fail<IndexError>("index_select: a 0-d input takes exactly one index, got ", index.numel());
    return reshape(index_select(reshape(x, {1}), 0, index), {});
  }
  Shape shape = x.shape();
  shape[d] = index.numel();
  Tensor out = Tensor::empty(shape, x.dtype(), x.device(), "index_select");
  const Tensor flat_index = contiguous_data(index.dim() == 0 ? reshape(index, {1}) : index);
  backend_of(x).index_select(x, d, flat_index, out);
  return record("index_select", {x}, out, {flat_index},
                [d, shape = x.shape()](Node& n, const Tensor& g) -> GradList {
                  return {index_select_backward(g, shape, d, n.saved(0))};
                });
}

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  check_defined("gather", x);
  check_index("gather", index);
  const int d = wrap_dim("gather", dim, x.dim());
  if (x.dim() == 0 || index.dim() == 0) {
    // As in PyTorch, a 0-d input or index counts as 1-d with one element.
    const auto as_1d = [](const Tensor& t) { return t.dim() == 0 ? reshape(t, {1}) : t; };
    if (std::max(x.dim(), 1) == std::max(index.dim(), 1))
      return reshape(gather(as_1d(x), 0, as_1d(index)), index.shape());
  }
  if (index.dim() != x.dim())
    fail<ShapeError>("gather: index of shape ", index.shape(), " must have the rank of the input ",
                     x.shape());
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device(), "gather");
  backend_of(x).gather(x, d, index, out);
  return record("gather", {x}, out, {index},
                [d, shape = x.shape()](Node& n, const Tensor& g) -> GradList {
                  return {gather_backward(g, shape, d, n.saved(0))};
                });
}

}  // namespace tether
