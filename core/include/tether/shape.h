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
  static Shape filled(int count, std::int64_t value) {
    if (count > kMaxDims) too_many_dims(count);
    Shape s;
    std::fill_n(s.dims_, count, value);
    s.size_ = count;
    return s;
  }

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
  void push_back(std::int64_t value) {
    if (size_ == kMaxDims) too_many_dims(size_ + 1);
    dims_[size_++] = value;
  }
  void insert(int position, std::int64_t value);
  void erase(int position);
  void pop_back() { --size_; }

  /// Product of the extents (1 for a scalar). Unsigned, so that a zero-extent
  /// shape whose other extents overflow ([2, 2^62, 0], which checked_numel
  /// accepts) gives 0 without overflowing: a 0 factor zeroes the product mod 2^64.
  std::int64_t numel() const {
    std::uint64_t n = 1;
    for (auto d : *this) n *= static_cast<std::uint64_t>(d);
    return static_cast<std::int64_t>(n);
  }
  std::vector<std::int64_t> to_vector() const { return {begin(), end()}; }
  /// "[2, 3]".
  std::string str() const;

  bool operator==(const Shape& other) const {
    if (size_ != other.size_) return false;
    // An element loop: for a few dims it beats the memcmp call std::equal becomes.
    for (int i = 0; i < size_; ++i)
      if (dims_[i] != other.dims_[i]) return false;
    return true;
  }

 private:
  void assign(const std::int64_t* first, const std::int64_t* last);
  [[noreturn]] static void too_many_dims(std::int64_t count);

  std::int64_t dims_[kMaxDims] = {};
  int size_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

/// Strides and dimension lists share Shape's representation.
using Strides = Shape;
using Dims = Shape;

/// Row-major (C-order) strides of a shape, in elements. Computed unsigned, as
/// numel(): a shape with no elements may have extents whose product overflows
/// ([0, 2^62, 4]), and its strides then wrap, which is harmless: they never
/// address an element.
inline Strides contiguous_strides(const Shape& shape) {
  Strides strides = Shape::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i)
    strides[i] = static_cast<std::int64_t>(static_cast<std::uint64_t>(strides[i + 1]) *
                                           static_cast<std::uint64_t>(shape[i + 1]));
  return strides;
}

/// The number of elements of `shape`, checked: throws ShapeError naming `op`
/// and the shape when an extent is negative or the count overflows 64 bits.
/// (A shape with a zero extent has no elements, whatever its other extents.)
std::int64_t checked_numel(const char* op, const Shape& shape);

/// NumPy broadcast of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

[[noreturn]] void fail_dim_out_of_range(const char* op, std::int64_t dim, int rank);

/// Wraps a possibly negative dimension index into [0, rank); throws IndexError
/// naming `op` when it is out of range. A scalar (rank 0) accepts 0 and -1.
inline int wrap_dim(const char* op, std::int64_t dim, int rank) {
  const int extent = std::max(rank, 1);
  if (dim < -extent || dim >= extent) fail_dim_out_of_range(op, dim, rank);
  return static_cast<int>(dim < 0 ? dim + extent : dim);
}

}  // namespace tether
