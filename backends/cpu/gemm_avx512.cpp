// A single-precision GEMM for AVX-512, written for the products of small
// networks (a few hundred rows and columns, depth 10 to 256), where Eigen 3.4's
// kernel (48 x 4 register tile) reaches about 65% of the FMA peak and
// OpenBLAS's depends on the kernel set the environment picks.
//
// The loops are those of Goto's GEMM with only b packed. Each block of
// kDepth rows and kColumnBlock columns of b is copied into panels of 32
// columns (two vectors), each panel's rows adjacent and zero-padded past n,
// transposing 16 x 16 tiles in registers when b's columns are the contiguous
// ones (x @ W^T, the forward of a linear layer). A micro-kernel then computes
// a tile of up to 12 rows x 32 columns of c in 24 vector accumulators: per
// step of the depth it loads one row of the panel (two vectors) and
// broadcasts one element of each of a's rows, read in place whatever a's
// strides. a's rows are streamed from the cache rather than packed: with 12
// rows per tile each element of a is loaded once per panel, and there are few
// panels in these products.
#include "gemm_avx512.h"

#include "tether/error.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <utility>
#include <vector>
#endif

namespace tether::backend::cpu {

#if defined(__AVX512F__)

namespace {

constexpr int kTileRows = 12;               ///< rows of c per micro-kernel call
constexpr std::int64_t kPanel = 32;         ///< columns of c per micro-kernel call
constexpr std::int64_t kDepth = 256;        ///< rows of b packed at once
constexpr std::int64_t kRowBlock = 192;     ///< rows of a swept per panel (kept in L2)
constexpr std::int64_t kColumnBlock = 512;  ///< columns of b packed at once (256 KiB, in L2)

/// The mask of the first `count` (clamped to 0..16) lanes of a vector.
__mmask16 first_lanes(std::int64_t count) {
  return static_cast<__mmask16>(count >= 16 ? 0xffff : count <= 0 ? 0 : (1u << count) - 1);
}

/// Transposes the 16 x 16 matrix whose rows are r[0..15], in place.
void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int half = 0; half < 16; half += 8)
    for (int i = 0; i < 4; ++i) {
      t[half + i] = _mm512_shuffle_f32x4(r[half + i], r[half + i + 4], 0x88);
      t[half + i + 4] = _mm512_shuffle_f32x4(r[half + i], r[half + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

/// Copies rows [0, depth) of b (n columns) into panels of kPanel columns:
/// column j of row p goes to packed[(j / kPanel * depth + p) * kPanel + j % kPanel],
/// and the columns from n to the last panel's end are zero.
void pack_b(const float* b, std::int64_t b_row, std::int64_t b_col, std::int64_t depth,
            std::int64_t n, float* packed) {
  const std::int64_t padded = (n + kPanel - 1) / kPanel * kPanel;
  const auto destination = [&](std::int64_t p, std::int64_t j) {
    return packed + (j / kPanel * depth + p) * kPanel + j % kPanel;
  };
  if (b_col == 1) {  // rows contiguous: copy 16 columns at a time, reading b in order
    for (std::int64_t p = 0; p < depth; ++p)
      for (std::int64_t j = 0; j < padded; j += 16)
        _mm512_store_ps(destination(p, j),
                        _mm512_maskz_loadu_ps(first_lanes(n - j), b + p * b_row + j));
  } else {  // columns contiguous: transpose 16 x 16 tiles
    __m512 tile[16];
    for (std::int64_t j = 0; j < padded; j += 16)
      for (std::int64_t p = 0; p < depth; p += 16) {
        const __mmask16 lanes = first_lanes(depth - p);
        for (std::int64_t jj = 0; jj < 16; ++jj)
          tile[jj] = j + jj < n ? _mm512_maskz_loadu_ps(lanes, b + (j + jj) * b_col + p)
                                : _mm512_setzero_ps();
        transpose16(tile);
        for (std::int64_t pp = 0; pp < std::min<std::int64_t>(16, depth - p); ++pp)
          _mm512_store_ps(destination(p + pp, j), tile[pp]);
      }
  }
}

/// c[0..Rows) x [0..32) (=, or += when accumulate) a's Rows rows @ one panel
/// of depth rows; the masks select the columns of c that exist.
template <int Rows>
void micro_kernel(std::int64_t depth, const float* a, std::int64_t a_row, std::int64_t a_col,
                  const float* panel, float* c, std::int64_t ldc, __mmask16 low, __mmask16 high,
                  bool accumulate) {
  __m512 left[Rows], right[Rows];
#pragma GCC unroll 12
  for (int i = 0; i < Rows; ++i) left[i] = right[i] = _mm512_setzero_ps();
  for (std::int64_t p = 0; p < depth; ++p, a += a_col, panel += kPanel) {
    const __m512 b_low = _mm512_load_ps(panel), b_high = _mm512_load_ps(panel + 16);
#pragma GCC unroll 12
    for (int i = 0; i < Rows; ++i) {
      const __m512 a_ip = _mm512_set1_ps(a[i * a_row]);
      left[i] = _mm512_fmadd_ps(a_ip, b_low, left[i]);
      right[i] = _mm512_fmadd_ps(a_ip, b_high, right[i]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < Rows; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      left[i] = _mm512_add_ps(left[i], _mm512_maskz_loadu_ps(low, row));
      right[i] = _mm512_add_ps(right[i], _mm512_maskz_loadu_ps(high, row + 16));
    }
    _mm512_mask_storeu_ps(row, low, left[i]);
    _mm512_mask_storeu_ps(row + 16, high, right[i]);
  }
}

using MicroKernel = decltype(&micro_kernel<1>);

/// micro_kernel<rows> for rows 1..kTileRows, at index rows - 1.
template <std::size_t... Rows>
constexpr std::array<MicroKernel, sizeof...(Rows)> micro_kernels(std::index_sequence<Rows...>) {
  return {&micro_kernel<static_cast<int>(Rows) + 1>...};
}
constexpr auto kMicroKernels = micro_kernels(std::make_index_sequence<kTileRows>{});

}  // namespace

bool native_gemm_available() {
  return true;
}

void native_sgemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                  std::int64_t a_row, std::int64_t a_col, const float* b, std::int64_t b_row,
                  std::int64_t b_col, float* c, std::int64_t ldc) {
  // A product a few columns wide fills a fraction of each panel (a 10-class
  // output layer: 10 of 32 columns). Computed transposed, c^T = b^T a^T, its
  // rows are those few columns and its panels are full (measured here: 4.6 us
  // instead of 8 for [128, 256] @ [256, 10]); a's unit stride makes it the
  // b^T a^T product's packable operand. The sums are the same, in the same
  // order.
  if (n < 16 && m >= 2 * kPanel && (a_row == 1 || a_col == 1)) {
    // A block of kColumnBlock rows at a time, so that the buffer stays small.
    thread_local std::vector<float> transposed(static_cast<std::size_t>(16 * kColumnBlock));
    for (std::int64_t first = 0; first < m; first += kColumnBlock) {
      const std::int64_t rows = std::min(kColumnBlock, m - first);
      native_sgemm(n, rows, k, b, b_col, b_row, a + first * a_row, a_col, a_row, transposed.data(),
                   rows);
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < n; ++j) c[(first + i) * ldc + j] = transposed[j * rows + i];
    }
    return;
  }
  // Kept for the thread's life: a fresh buffer per product would page-fault.
  // Eigen's allocator aligns it to 64 bytes, as the panels' loads need.
  thread_local std::vector<float, Eigen::aligned_allocator<float>> buffer;
  const std::int64_t widest = std::min(n, kColumnBlock);
  const auto size =
      static_cast<std::size_t>(std::min(k, kDepth) * (widest + kPanel - 1) / kPanel * kPanel);
  if (buffer.size() < size) buffer.resize(size);
  float* const packed = buffer.data();
  for (std::int64_t p = 0; p < k; p += kDepth) {
    const std::int64_t depth = std::min(kDepth, k - p);
    // Later blocks of the depth add to what the first wrote.
    const bool add = p > 0;
    for (std::int64_t j0 = 0; j0 < n; j0 += kColumnBlock) {
      const std::int64_t columns = std::min(kColumnBlock, n - j0);
      pack_b(b + p * b_row + j0 * b_col, b_row, b_col, depth, columns, packed);
      for (std::int64_t first = 0; first < m; first += kRowBlock) {
        const std::int64_t last = std::min(m, first + kRowBlock);
        for (std::int64_t j = 0; j < columns; j += kPanel) {
          const __mmask16 low = first_lanes(columns - j), high = first_lanes(columns - j - 16);
          for (std::int64_t i = first; i < last; i += kTileRows) {
            const auto rows = static_cast<int>(std::min<std::int64_t>(kTileRows, last - i));
            kMicroKernels[rows - 1](depth, a + i * a_row + p * a_col, a_row, a_col,
                                    packed + j * depth, c + i * ldc + j0 + j, ldc, low, high, add);
          }
        }
      }
    }
  }
}

#else

bool native_gemm_available() {
  return false;
}

void native_sgemm(std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t,
                  std::int64_t, const float*, std::int64_t, std::int64_t, float*, std::int64_t) {
  fail<ValueError>("matmul: the native GEMM route needs a build for a CPU with AVX-512");
}

#endif

}  // namespace tether::backend::cpu
