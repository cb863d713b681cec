#include "tether/shape.h"

#include <sstream>

#include "tether/error.h"

namespace tether {

void Shape::assign(const std::int64_t* first, const std::int64_t* last) {
  const auto count = std::distance(first, last);
  if (count > kMaxDims) too_many_dims(count);
  for (int i = 0; i < count; ++i) dims_[i] = first[i];  // a few dims: no memmove call
  size_ = static_cast<int>(count);
}

void Shape::too_many_dims(std::int64_t count) {
  fail<ShapeError>("Shape: at most ", kMaxDims, " dimensions, got ", count);
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

std::int64_t checked_numel(const char* op, const Shape& shape) {
  for (auto d : shape)
    if (d < 0) fail<ShapeError>(op, ": negative extent in shape ", shape);
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::int64_t n = 1;
  for (auto d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      fail<ShapeError>(op, ": shape ", shape, " has more elements than a 64-bit count can hold");
  return n;
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

void fail_dim_out_of_range(const char* op, std::int64_t dim, int rank) {
  fail<IndexError>(op, ": dimension ", dim, " out of range for a tensor of rank ", rank);
}

}  // namespace tether
