// The order sort and topk put a slice in, shared by the CPU and CUDA kernels
// so that both give the same indices.
#pragma once

#include <cstdint>

#include "integer_arithmetic.h"  // TETHER_HOST_DEVICE

namespace tether::backend {

/// Whether a sorts strictly below b in ascending order: NaN counts as larger
/// than any number (as in PyTorch's sort), and NaNs are equal to each other.
template <class T>
TETHER_HOST_DEVICE bool sorts_below(T a, T b) {
  if (b != b) return a == a;  // NaN is above every number, and not above itself
  return a < b;               // false when a is NaN
}

/// Whether element a (at position ia of its slice) comes before element b (at
/// ib) in the order sort gives: ascending or descending by value, and equal
/// values by position, so the order is total and every sort is stable.
template <class T>
TETHER_HOST_DEVICE bool sorts_before(T a, std::int64_t ia, T b, std::int64_t ib, bool descending) {
  if (descending ? sorts_below(b, a) : sorts_below(a, b)) return true;
  if (descending ? sorts_below(a, b) : sorts_below(b, a)) return false;
  return ia < ib;
}

}  // namespace tether::backend
