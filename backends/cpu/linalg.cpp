// Cholesky factorisation and triangular solves, one matrix of the batch at a
// time on Eigen. The factorisation is written out rather than taken from
// Eigen::LLT because its error has to say which leading minor failed, which
// LLT does not report.
#include <Eigen/Core>
#include <cmath>

#include "cpu_backend.h"

namespace tether::backend::cpu {
namespace {

template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using AnyStride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using StridedMatrix = Eigen::Map<const RowMajorMatrix<T>, Eigen::Unaligned, AnyStride>;
template <class T>
using DenseMatrix = Eigen::Map<RowMajorMatrix<T>>;

/// Matrix `b` of rank-3 `t`, read in place through its strides (a batch of
/// one is shared by every b).
template <class T>
StridedMatrix<T> strided_matrix(const Tensor& t, std::int64_t b) {
  const std::int64_t batch_stride = t.shape()[0] == 1 ? 0 : t.strides()[0];
  return {t.data_ptr<T>() + b * batch_stride, t.shape()[1], t.shape()[2],
          AnyStride(t.strides()[1], t.strides()[2])};
}

/// Matrix `b` of contiguous rank-3 `t`, writable.
template <class T>
DenseMatrix<T> dense_matrix(const Tensor& t, std::int64_t b) {
  const std::int64_t rows = t.shape()[1], cols = t.shape()[2];
  return {t.data_ptr<T>() + b * rows * cols, rows, cols};
}

/// Overwrites the lower triangle of `a` with its Cholesky factor and zeros the
/// rest. Returns 0, or the order of the first leading minor whose pivot is not
/// positive (NaN included), where it stops.
template <class T>
std::int64_t factor_lower(DenseMatrix<T> a) {
  const Eigen::Index n = a.rows();
  for (Eigen::Index k = 0; k < n; ++k) {
    // Column k of L from the columns before it (left-looking).
    const auto row = a.row(k).head(k);
    const T pivot = a(k, k) - row.squaredNorm();
    if (!(pivot > T(0))) return k + 1;
    const T diagonal = std::sqrt(pivot);
    a(k, k) = diagonal;
    const Eigen::Index below = n - k - 1;
    a.col(k).tail(below) =
        (a.col(k).tail(below) - a.bottomLeftCorner(below, k) * row.transpose()) / diagonal;
  }
  a.template triangularView<Eigen::StrictlyUpper>().setZero();
  return 0;
}

template <class T, unsigned Mode>
void solve_each(const Tensor& a, const Tensor& out, bool left) {
  for (std::int64_t b = 0; b < out.shape()[0]; ++b) {
    DenseMatrix<T> x = dense_matrix<T>(out, b);
    const auto triangle = strided_matrix<T>(a, b).template triangularView<Mode>();
    if (left)
      triangle.solveInPlace(x);
    else
      triangle.template solveInPlace<Eigen::OnTheRight>(x);
  }
}

}  // namespace

std::optional<NotPositiveDefinite> CpuBackend::cholesky(const Tensor& in, const Tensor& out) {
  copy(in, out);
  return visit_floating("cholesky", out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    for (std::int64_t b = 0; b < out.shape()[0]; ++b)
      if (const std::int64_t order = factor_lower<T>(dense_matrix<T>(out, b)))
        return std::optional<NotPositiveDefinite>({.batch = b, .order = order});
    return std::optional<NotPositiveDefinite>();
  });
}

void CpuBackend::solve_triangular(const Tensor& a, const Tensor& rhs, const Tensor& out,
                                  TriangularSystem system) {
  copy(rhs, out);
  if (out.numel() == 0) return;
  visit_floating("solve_triangular", out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    if (system.upper && system.unitriangular)
      return solve_each<T, Eigen::UnitUpper>(a, out, system.left);
    if (system.upper) return solve_each<T, Eigen::Upper>(a, out, system.left);
    if (system.unitriangular) return solve_each<T, Eigen::UnitLower>(a, out, system.left);
    solve_each<T, Eigen::Lower>(a, out, system.left);
  });
}

}  // namespace tether::backend::cpu
