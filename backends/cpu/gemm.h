// The CPU matrix product for kernels that split their own work over the pool
// (conv.cpp): one product on the calling thread, on the route matmul takes.
#pragma once

#include <cstdint>

namespace tether::backend::cpu {

/// One operand of serial_gemm: a row-major matrix with `leading` elements
/// between rows, read as is or (transposed) as its transpose.
template <class T>
struct GemmOperand {
  const T* data;
  std::int64_t leading;
  bool transposed = false;
};

/// c [m, n] (row-major, contiguous) = a [m, k] @ b [k, n], on this thread
/// only, by the route CpuBackend::matmul takes for the size (a plain loop for
/// the tiniest). Defined for float and double (matmul.cpp).
template <class T>
void serial_gemm(GemmOperand<T> a, GemmOperand<T> b, std::int64_t m, std::int64_t n, std::int64_t k,
                 T* c);

}  // namespace tether::backend::cpu
