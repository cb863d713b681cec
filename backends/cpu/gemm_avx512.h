// tether's own single-precision GEMM for AVX-512 CPUs: the third CPU route
// (GemmRoute::native), beside OpenBLAS and Eigen. See gemm_avx512.cpp.
#pragma once

#include <cstdint>

namespace tether::backend::cpu {

/// Whether this build has the kernel: it is compiled only when the backend is
/// compiled for a CPU with AVX-512F (TETHER_NATIVE on such a machine).
bool native_gemm_available();

/// c = a @ b for an m x k by k x n product of floats on the calling thread:
/// element (i, p) of a is a[i * a_row + p * a_col] and (p, j) of b is
/// b[p * b_row + j * b_col] (a transposed operand is just swapped strides; a's
/// may be any, one of b's must be 1), c is row-major with `ldc` elements
/// between rows. Needs native_gemm_available() (else a ValueError).
void native_sgemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                  std::int64_t a_row, std::int64_t a_col, const float* b, std::int64_t b_row,
                  std::int64_t b_col, float* c, std::int64_t ldc);

}  // namespace tether::backend::cpu
