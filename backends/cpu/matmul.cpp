// Batched matrix product. Each operand's matrices are handed to the GEMM in
// place when they are row- or column-major (a transposed view is just the other
// order), and copied to a contiguous buffer only when neither. Tiny products
// (kSmallGemm) run a plain loop whatever the route; the others run on OpenBLAS,
// on Eigen's GEMM kernel (compiled for this CPU) or, for f32 on a CPU with
// AVX-512, on tether's own kernel (gemm_avx512.cpp): the build's TETHER_MATMUL
// or set_cpu_gemm_route may fix the route, and otherwise it is the one measured
// fastest on this machine for the product's size class (see automatic_route).
#include <cblas.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu_backend.h"
#include "gemm.h"
#include "gemm_avx512.h"
#include "tether/backend/parallel.h"

namespace tether::backend::cpu {
namespace {

/// One matrix as BLAS sees it.
template <class T>
struct MatrixView {
  const T* data;
  bool column_major;     ///< elements of a column are adjacent
  std::int64_t leading;  ///< elements between rows (row-major) or columns
};

/// The matrices of one operand: batch i starts batch_stride * i elements in.
template <class T>
struct BatchedMatrices {
  MatrixView<T> first;
  std::int64_t batch_stride;  ///< 0 when every batch shares one matrix

  MatrixView<T> operator[](std::int64_t i) const {
    return {first.data + i * batch_stride, first.column_major, first.leading};
  }
};

/// The matrices of rank-3 `t` for the GEMM, packed into a contiguous buffer
/// (kept alive by `packed`) when they are neither row- nor column-major.
template <class T>
BatchedMatrices<T> batched_matrices(const Tensor& t, Tensor& packed) {
  const std::int64_t rows = t.shape()[1], cols = t.shape()[2];
  const std::int64_t batch_stride = t.shape()[0] == 1 ? 0 : t.strides()[0];
  if (const auto layout = matrix_layout(t))
    return {{t.data_ptr<T>(), layout->column_major, layout->leading}, batch_stride};
  // A broadcast batch is packed once and stays broadcast.
  const std::int64_t batches = batch_stride == 0 ? 1 : t.shape()[0];
  const Tensor source = Tensor::view_of(t, {batches, rows, cols}, t.strides(), t.storage_offset());
  packed = Tensor::empty(source.shape(), t.dtype());
  cpu_backend().copy(source, packed);
  return {{packed.data_ptr<T>(), false, cols}, batch_stride == 0 ? 0 : rows * cols};
}

/// Products of at most this many multiply-adds run in small_gemm (measured
/// here: 0.25 vs 0.31 us for 4x4 @ 4, a tie around 8^3 with Eigen ahead).
constexpr std::int64_t kSmallGemm = 128;

void blas_gemm(MatrixView<float> a, MatrixView<float> b, std::int64_t m, std::int64_t n,
               std::int64_t k, float* c) {
  cblas_sgemm(CblasRowMajor, a.column_major ? CblasTrans : CblasNoTrans,
              b.column_major ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a.data, a.leading, b.data,
              b.leading, 0.0f, c, n);
}
void blas_gemm(MatrixView<double> a, MatrixView<double> b, std::int64_t m, std::int64_t n,
               std::int64_t k, double* c) {
  cblas_dgemm(CblasRowMajor, a.column_major ? CblasTrans : CblasNoTrans,
              b.column_major ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a.data, a.leading, b.data,
              b.leading, 0.0, c, n);
}

/// c = a @ b by native_sgemm (a column-major matrix is a row-major one with
/// its strides swapped).
void native_gemm(MatrixView<float> a, MatrixView<float> b, std::int64_t m, std::int64_t n,
                 std::int64_t k, float* c) {
  const auto strides = [](MatrixView<float> x) {
    return x.column_major ? std::array<std::int64_t, 2>{1, x.leading}
                          : std::array<std::int64_t, 2>{x.leading, 1};
  };
  const auto [a_row, a_col] = strides(a);
  const auto [b_row, b_col] = strides(b);
  native_sgemm(m, n, k, a.data, a_row, a_col, b.data, b_row, b_col, c, n);
}

/// Whether tether's own kernel can run products of T: f32, in a build for a
/// CPU with AVX-512.
template <class T>
bool has_native_gemm() {
  return std::is_same_v<T, float> && native_gemm_available();
}

/// Eigen's GEMM blocking (panel sizes and packing buffers) with buffers that
/// live as long as the thread. Eigen's own product allocates them on every
/// call, on the stack only up to 128 KiB: larger ones come from malloc, glibc
/// returns them to the OS, and the next product page-faults them back in at
/// ~11 us per 4 KiB page on these machines.
template <class T>
class ThreadLocalBlocking final : public Eigen::internal::level3_blocking<T, T> {
 public:
  /// Blocking for a column-major rows x cols product with inner extent depth.
  ThreadLocalBlocking(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth) {
    this->m_mc = rows;
    this->m_nc = cols;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<T, T, 1>(this->m_kc, this->m_mc, this->m_nc,
                                                          Eigen::Index{1});
    constexpr Eigen::Index kAlignment = EIGEN_MAX_ALIGN_BYTES / sizeof(T);
    const Eigen::Index size_a =
        (this->m_kc * this->m_mc + kAlignment - 1) / kAlignment * kAlignment;
    const Eigen::Index size_b = this->m_kc * this->m_nc;
    thread_local std::vector<T, Eigen::aligned_allocator<T>> buffer;
    if (static_cast<Eigen::Index>(buffer.size()) < size_a + size_b) buffer.resize(size_a + size_b);
    this->m_blockA = buffer.data();
    this->m_blockB = buffer.data() + size_a;
  }
};

/// Calls f(std::integral_constant<int, order>) with the Eigen storage order.
template <class F>
void with_storage_order(bool column_major, F&& f) {
  if (column_major)
    f(std::integral_constant<int, Eigen::ColMajor>{});
  else
    f(std::integral_constant<int, Eigen::RowMajor>{});
}

/// c = a @ b with Eigen's GEMM kernel, called directly so that it can use
/// ThreadLocalBlocking.
template <class T>
void eigen_gemm(MatrixView<T> a, MatrixView<T> b, std::int64_t m, std::int64_t n, std::int64_t k,
                T* c) {
  std::fill_n(c, m * n, T(0));  // the kernel accumulates into c
  // Eigen computes a row-major product as its column-major transpose, n x m.
  ThreadLocalBlocking<T> blocking(n, m, k);
  with_storage_order(a.column_major, [&](auto a_order) {
    with_storage_order(b.column_major, [&](auto b_order) {
      Eigen::internal::general_matrix_matrix_product<Eigen::Index, T, a_order(), false, T,
                                                     b_order(), false, Eigen::RowMajor,
                                                     1>::run(m, n, k, a.data, a.leading, b.data,
                                                             b.leading, c, 1, n, T(1), blocking);
    });
  });
}

/// Multiply-adds a chunk of a product must hold to repay handing it to
/// another thread (a 64^3 product: a few microseconds).
constexpr std::int64_t kGemmGrainWork = std::int64_t{1} << 18;

/// c = a @ b by `gemm` (a product on one thread: serial_route) with c's
/// rows split over the CPU pool: one pool serves every kernel, products
/// included, so OpenBLAS runs single-threaded and never spins beside it. A
/// chunk's rows equal the serial product's up to the order of the k-sum,
/// which the libraries' blocking picks per chunk size.
template <class T, class Gemm>
void on_pool(Gemm gemm, MatrixView<T> a, MatrixView<T> b, std::int64_t m, std::int64_t n,
             std::int64_t k, T* c) {
  const std::int64_t a_row = a.column_major ? 1 : a.leading;
  const std::int64_t grain =
      std::max<std::int64_t>(8, kGemmGrainWork / std::max<std::int64_t>(n * k, 1));
  parallel_for(0, m, grain, [&](std::int64_t begin, std::int64_t end) {
    gemm(MatrixView<T>{a.data + begin * a_row, a.column_major, a.leading}, b, end - begin, n, k,
         c + begin * n);
  });
}

/// The route the build fixes (TETHER_MATMUL), automatic unless it fixes one.
#if defined(TETHER_MATMUL_OPENBLAS)
constexpr GemmRoute kBuildRoute = GemmRoute::openblas;
#elif defined(TETHER_MATMUL_EIGEN)
constexpr GemmRoute kBuildRoute = GemmRoute::eigen;
#elif defined(TETHER_MATMUL_NATIVE)
constexpr GemmRoute kBuildRoute = GemmRoute::native;
#else
constexpr GemmRoute kBuildRoute = GemmRoute::automatic;
#endif

std::atomic<GemmRoute> forced_route{kBuildRoute};

/// Size classes: class c holds the products of about (2^c)^3 multiply-adds.
/// From 512^3 on both libraries run at their plateau (measured up to 2048), so
/// the largest class stands for all of them.
constexpr int kSizeClasses = 10;

int size_class(std::int64_t m, std::int64_t n, std::int64_t k) {
  const int bits = static_cast<int>(std::bit_width(static_cast<std::uint64_t>(m * n * k)));
  return std::min(bits / 3, kSizeClasses - 1);
}

/// c = a @ b on `route` (not automatic), on the calling thread.
template <class T>
void serial_route(GemmRoute route, MatrixView<T> a, MatrixView<T> b, std::int64_t m, std::int64_t n,
                  std::int64_t k, T* c) {
  if constexpr (std::is_same_v<T, float>) {
    if (route == GemmRoute::native) return native_gemm(a, b, m, n, k, c);
  }
  if (route == GemmRoute::openblas) return blas_gemm(a, b, m, n, k, c);
  eigen_gemm<T>(a, b, m, n, k, c);
}

/// c = a @ b on `route` (not automatic), c's rows split over the CPU pool.
template <class T>
void run_route(GemmRoute route, MatrixView<T> a, MatrixView<T> b, std::int64_t m, std::int64_t n,
               std::int64_t k, T* c) {
  on_pool<T>([route](auto... args) { serial_route<T>(route, args...); }, a, b, m, n, k, c);
}

/// The fastest route for a square product of side 2^size_class, by the best
/// of three alternating runs of each: the minimum, because load from other
/// processes only ever adds time. Costs about nine such products.
template <class T>
GemmRoute measure_fastest_route(int size_class) {
  const std::int64_t side = std::int64_t{1} << size_class;
  const std::vector<T, Eigen::aligned_allocator<T>> operand(side * side, T(1));
  std::vector<T, Eigen::aligned_allocator<T>> product(side * side);
  const MatrixView<T> matrix{operand.data(), false, side};
  std::vector<std::pair<GemmRoute, double>> candidates = {
      {GemmRoute::eigen, std::numeric_limits<double>::infinity()},
      {GemmRoute::openblas, std::numeric_limits<double>::infinity()}};
  if (has_native_gemm<T>())
    candidates.emplace_back(GemmRoute::native, std::numeric_limits<double>::infinity());
  for (int round = 0; round < 3; ++round)
    for (auto& [route, best] : candidates) {
      const auto start = std::chrono::steady_clock::now();
      run_route<T>(route, matrix, matrix, side, side, side, product.data());
      best = std::min(
          best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  return std::min_element(candidates.begin(), candidates.end(),
                          [](const auto& x, const auto& y) { return x.second < y.second; })
      ->first;
}

/// Each dtype's measured route per size class (automatic: not measured yet),
/// and the BLAS thread count they were measured with: a product under another
/// count measures again, as OpenBLAS's speed depends on it and Eigen's not.
template <class T>
std::array<std::atomic<GemmRoute>, kSizeClasses> measured_routes{};
std::atomic<int> measured_threads{0};

/// The route of an m x k by k x n product of T that no build or caller fixed:
/// the one measured faster for its size class, measuring the class on its
/// first product. Two threads may both measure a class; either result stands.
template <class T>
GemmRoute automatic_route(std::int64_t m, std::int64_t n, std::int64_t k) {
  if (const int threads = cpu_threads();
      measured_threads.load(std::memory_order_relaxed) != threads) {  // rarely: no atomic write
    measured_threads = threads;
    for (auto& route : measured_routes<float>) route = GemmRoute::automatic;
    for (auto& route : measured_routes<double>) route = GemmRoute::automatic;
  }
  const int size = size_class(m, n, k);
  GemmRoute route = measured_routes<T>[size];
  if (route == GemmRoute::automatic)
    measured_routes<T>[size] = route = measure_fastest_route<T>(size);
  return route;
}

/// The route of an m x k by k x n product of T: the forced one, if any (Eigen
/// where native is forced but cannot run T).
template <class T>
GemmRoute route(std::int64_t m, std::int64_t n, std::int64_t k) {
  const GemmRoute forced = forced_route;
  if (forced == GemmRoute::native && !has_native_gemm<T>()) return GemmRoute::eigen;
  return forced == GemmRoute::automatic ? automatic_route<T>(m, n, k) : forced;
}

/// c = a @ b by the textbook loop, for products too small to repay a GEMM's
/// packing (a few hundred multiply-adds: a matrix-vector product in spectral
/// norm's power iteration costs ~40 instructions here, over 1,000 in the GEMM),
/// and for integers of any size, which are exact here and have no GEMM library.
template <class T>
void small_gemm(MatrixView<T> a, MatrixView<T> b, std::int64_t m, std::int64_t n, std::int64_t k,
                T* c) {
  // Integers multiply and add as unsigned, so an overflow wraps (as in
  // PyTorch) instead of being undefined behaviour.
  using Arithmetic = typename std::conditional_t<std::is_integral_v<T>, std::make_unsigned<T>,
                                                 std::type_identity<T>>::type;
  const std::int64_t a_row = a.column_major ? 1 : a.leading, a_col = a.column_major ? a.leading : 1;
  const std::int64_t b_row = b.column_major ? 1 : b.leading, b_col = b.column_major ? b.leading : 1;
  std::fill_n(c, m * n, T(0));
  // Row i of c accumulates a[i, p] * row p of b, which vectorises when b's
  // rows are contiguous.
  const auto accumulate = [&](auto b_step) {
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t p = 0; p < k; ++p) {
        const auto a_ip = static_cast<Arithmetic>(a.data[i * a_row + p * a_col]);
        const T* b_p = b.data + p * b_row;
        T* c_i = c + i * n;
        for (std::int64_t j = 0; j < n; ++j)
          c_i[j] = static_cast<T>(static_cast<Arithmetic>(c_i[j]) +
                                  a_ip * static_cast<Arithmetic>(b_p[j * b_step]));
      }
  };
  if (b_col == 1)
    accumulate(std::integral_constant<std::int64_t, 1>{});
  else
    accumulate(b_col);
}

/// c = a @ b where one side is a vector (n == 1, or m == 1, which is the
/// same product transposed), by Eigen's matrix-vector kernel: a GEMM packs a
/// whole panel for the one column (measured here: 4-5 us for [256, 64] @ [64]
/// in the GEMMs, 0.4-0.5 us in Eigen's GEMV, as in spectral norm's power
/// iteration). c's entries are split over the CPU pool.
template <class T>
void matrix_vector(MatrixView<T> a, MatrixView<T> b, std::int64_t m, std::int64_t n, std::int64_t k,
                   T* c) {
  // As matrix @ vector: the matrix is a (m x k), or b^T (n x k) when m == 1;
  // the vector has k entries `step` apart.
  const bool row_times_matrix = m == 1;
  const MatrixView<T> matrix =
      row_times_matrix ? MatrixView<T>{b.data, !b.column_major, b.leading} : a;
  const T* const vector = row_times_matrix ? a.data : b.data;
  const MatrixView<T> source = row_times_matrix ? a : b;
  // a's row (m == 1) runs along its columns; b's column (n == 1) along its rows.
  const std::int64_t step = row_times_matrix == source.column_major ? source.leading : 1;
  const std::int64_t rows = row_times_matrix ? n : m;
  const std::int64_t grain =
      std::max<std::int64_t>(8, kGemmGrainWork / std::max<std::int64_t>(k, 1));
  with_storage_order(matrix.column_major, [&](auto order) {
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, order()>;
    using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    parallel_for(0, rows, grain, [&](std::int64_t begin, std::int64_t end) {
      const std::int64_t first = matrix.column_major ? begin : begin * matrix.leading;
      const Eigen::Map<const Matrix, 0, Eigen::OuterStride<>> block(
          matrix.data + first, end - begin, k, Eigen::OuterStride<>(matrix.leading));
      const Eigen::Map<const Vector, 0, Eigen::InnerStride<>> x(vector, k,
                                                                Eigen::InnerStride<>(step));
      Eigen::Map<Vector>(c + begin, end - begin).noalias() = block * x;
    });
  });
}

template <class T>
void matmul_typed(const Tensor& a_tensor, const Tensor& b_tensor, const Tensor& out) {
  T* const c = out.data_ptr<T>();
  const std::int64_t k = a_tensor.shape()[2];
  if (k == 0) {
    std::fill_n(c, out.numel(), T(0));
    return;
  }
  Tensor packed_a, packed_b;
  const BatchedMatrices<T> a = batched_matrices<T>(a_tensor, packed_a);
  const BatchedMatrices<T> b = batched_matrices<T>(b_tensor, packed_b);
  std::int64_t batches = out.shape()[0], m = out.shape()[1];
  const std::int64_t n = out.shape()[2];
  // x @ W with one shared W and row-major x: the batches stack into one taller
  // product, which a GEMM runs faster than many short ones.
  if (batches > 1 && b.batch_stride == 0 && !a.first.column_major &&
      a.batch_stride == m * a.first.leading) {
    m *= batches;
    batches = 1;
  }
  const auto each_batch = [&](auto gemm) {
    for (std::int64_t i = 0; i < batches; ++i) gemm(a[i], b[i], m, n, k, c + i * m * n);
  };
  if (std::is_integral_v<T> || m * n * k <= kSmallGemm) {
    each_batch([](auto... args) { small_gemm<T>(args...); });
  } else if (m == 1 || n == 1) {
    each_batch([](auto... args) { matrix_vector<T>(args...); });
  } else if constexpr (std::is_floating_point_v<T>) {
    const GemmRoute chosen = route<T>(m, n, k);
    each_batch([chosen](auto... args) { run_route<T>(chosen, args...); });
  }
}

}  // namespace

template <class T>
void serial_gemm(GemmOperand<T> a, GemmOperand<T> b, std::int64_t m, std::int64_t n, std::int64_t k,
                 T* c) {
  // A transposed row-major operand is a column-major one, with the same leading extent.
  const MatrixView<T> a_view{a.data, a.transposed, a.leading};
  const MatrixView<T> b_view{b.data, b.transposed, b.leading};
  if (m * n * k <= kSmallGemm)
    small_gemm<T>(a_view, b_view, m, n, k, c);
  else
    serial_route<T>(route<T>(m, n, k), a_view, b_view, m, n, k, c);
}
template void serial_gemm<float>(GemmOperand<float>, GemmOperand<float>, std::int64_t, std::int64_t,
                                 std::int64_t, float*);
template void serial_gemm<double>(GemmOperand<double>, GemmOperand<double>, std::int64_t,
                                  std::int64_t, std::int64_t, double*);

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (!out.is_contiguous()) fail<ValueError>("matmul: the output must be contiguous");
  if (out.numel() == 0) return;
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    matmul_typed<T>(a, b, out);
  });
}

}  // namespace tether::backend::cpu

namespace tether::backend {

GemmRoute set_cpu_gemm_route(GemmRoute route) {
  return cpu::forced_route.exchange(route);
}

GemmRoute cpu_gemm_route(DType dtype, std::int64_t m, std::int64_t n, std::int64_t k) {
  switch (dtype) {
    case DType::f32:
      return cpu::route<float>(m, n, k);
    case DType::f64:
      return cpu::route<double>(m, n, k);
    case DType::i64:
    case DType::boolean:
      break;
  }
  fail<DTypeError>("cpu_gemm_route: expected f32 or f64, got ", dtype);
}

}  // namespace tether::backend
