// Shape: a short list of extents (also used for strides and dimension lists),
// stored inline so that creating a tensor does not allocate for its metadata.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace tether {

class Shape {
 public:
  /// Tensors have at most this many dimensions.
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.end()); }
  Shape(const std::vector<std::int64_t>& dims) { assign(dims.data(), dims.data() + dims.size()); }
  /// `count` copies of `value`.
  static Shape filled(int count, std::int64_t value);

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t& operator[](int i) { return dims_[i]; }
  std::int64_t operator[](int i) const { return dims_[i]; }
  std::int64_t back() const { return dims_[size_ - 1]; }
  std::int64_t& back() { return dims_[size_ - 1]; }
  const std::int64_t* begin() const { return dims_; }
  const std::int64_t* end() const { return dims_ + size_; }
  std::int64_t* begin() { return dims_; }
  std::int64_t* end() { return dims_ + size_; }

  /// Throws tether::ShapeError beyond kMaxDims.
  void push_back(std::int64_t value);
  void insert(int position, std::int64_t value);
  void erase(int position);
  void pop_back() { --size_; }

  /// Product of the extents (1 for a scalar).
  std::int64_t numel() const;
  std::vector<std::int64_t> to_vector() const { return {begin(), end()}; }
  /// "[2, 3]".
  std::string str() const;

  bool operator==(const Shape& other) const {
    return size_ == other.size_ && std::equal(begin(), end(), other.begin());
  }

 private:
  void assign(const std::int64_t* first, const std::int64_t* last);

  std::int64_t dims_[kMaxDims] = {};
  int size_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

/// Strides and dimension lists share Shape's representation.
using Strides = Shape;
using Dims = Shape;

/// Row-major (C-order) strides of a shape, in elements.
Strides contiguous_strides(const Shape& shape);

/// NumPy broadcast of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// Wraps a possibly negative dimension index into [0, rank); throws IndexError
/// naming `op` when it is out of range.
int wrap_dim(const char* op, std::int64_t dim, int rank);

}  // namespace tether
