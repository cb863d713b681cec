#include "tether/shape.h"

#include <sstream>

#include "tether/error.h"

namespace tether {

void Shape::assign(const std::int64_t* first, const std::int64_t* last) {
  const auto count = std::distance(first, last);
  if (count > kMaxDims) fail<ShapeError>("Shape: at most ", kMaxDims, " dimensions, got ", count);
  std::copy(first, last, dims_);
  size_ = static_cast<int>(count);
}

Shape Shape::filled(int count, std::int64_t value) {
  Shape s;
  for (int i = 0; i < count; ++i) s.push_back(value);
  return s;
}

void Shape::push_back(std::int64_t value) {
  if (size_ == kMaxDims) fail<ShapeError>("Shape: at most ", kMaxDims, " dimensions");
  dims_[size_++] = value;
}

void Shape::insert(int position, std::int64_t value) {
  push_back(0);
  std::copy_backward(dims_ + position, dims_ + size_ - 1, dims_ + size_);
  dims_[position] = value;
}

void Shape::erase(int position) {
  std::copy(dims_ + position + 1, dims_ + size_, dims_ + position);
  --size_;
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (auto d : *this) n *= d;
  return n;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) {
  os << '[';
  for (int i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  return os << ']';
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides = Shape::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const int rank = std::max(a.size(), b.size());
  Shape out = Shape::filled(rank, 1);
  for (int i = 0; i < rank; ++i) {
    const int ia = a.size() - rank + i, ib = b.size() - rank + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      fail<ShapeError>(op, ": shapes ", a, " and ", b, " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int wrap_dim(const char* op, std::int64_t dim, int rank) {
  const int extent = std::max(rank, 1);
  if (dim < -extent || dim >= extent)
    fail<IndexError>(op, ": dimension ", dim, " out of range for a tensor of rank ", rank);
  return static_cast<int>(dim < 0 ? dim + extent : dim);
}

}  // namespace tether
