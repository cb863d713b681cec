// Bitwise comparison of tensors, for the fuzz targets' "nothing changed" checks.
#pragma once

#include <tether/tensor.h>

#include <cstring>

namespace tether::fuzz {

/// Whether two tensors have the same dtype, shape and bytes (NaN included,
/// which == on values would not see).
inline bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor x = a.contiguous(), y = b.contiguous();
  // memcmp's pointers must not be null, even for no bytes.
  return x.dtype() == y.dtype() && x.shape() == y.shape() &&
         (x.numel() == 0 ||
          std::memcmp(x.raw_data(), y.raw_data(), x.numel() * element_size(x.dtype())) == 0);
}

}  // namespace tether::fuzz
