// Spectral normalisation's power iteration and gradient (Backend::spectral_norm):
// matrix-vector products over the weight read in place, one call for what the
// composed ops would run as a dozen kernels on vectors of a few elements.
#include <Eigen/Core>
#include <cmath>

#include "cpu_backend.h"

namespace tether::backend::cpu {

namespace {

template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using StridedMatrixMap =
    Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

/// max(x, eps) that keeps a NaN, as the clamp kernel does.
template <class T>
T at_least(T x, T eps) {
  return std::isnan(x) || x >= eps ? x : eps;
}

/// The matrix W [m, P * Q] of a rank-3 view [P, m, Q] (see Backend::spectral_norm),
/// as P column blocks ("slabs") of Q columns each.
template <class T>
class BlockMatrix {
 public:
  explicit BlockMatrix(const Tensor& w)
      : data_(w.data_ptr<T>()),
        slabs_(w.size(0)),
        rows_(w.size(1)),
        cols_(w.size(2)),
        slab_stride_(w.strides()[0]),
        stride_(w.strides()[1], w.strides()[2]) {}

  Eigen::Index rows() const { return rows_; }
  Eigen::Index slabs() const { return slabs_; }
  Eigen::Index slab_cols() const { return cols_; }
  StridedMatrixMap<T> slab(Eigen::Index p) const {
    return StridedMatrixMap<T>(data_ + p * slab_stride_, rows_, cols_, stride_);
  }

  /// out [m] = W x.
  void times(const T* x, T* out) const {
    Eigen::Map<Vector<T>> y(out, rows_);
    y.setZero();
    for (Eigen::Index p = 0; p < slabs_; ++p)
      y.noalias() += slab(p) * Eigen::Map<const Vector<T>>(x + p * cols_, cols_);
  }
  /// out [P * Q] = W^T x.
  void transposed_times(const T* x, T* out) const {
    const Eigen::Map<const Vector<T>> column(x, rows_);
    for (Eigen::Index p = 0; p < slabs_; ++p)
      Eigen::Map<Vector<T>>(out + p * cols_, cols_).noalias() = slab(p).transpose() * column;
  }

 private:
  const T* data_;
  Eigen::Index slabs_, rows_, cols_, slab_stride_;
  Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic> stride_;
};

/// Slab p of a contiguous [P, m, Q] tensor, writable.
template <class T>
Eigen::Map<RowMajor<T>> output_slab(const Tensor& out, Eigen::Index p) {
  const Eigen::Index rows = out.size(1), cols = out.size(2);
  return Eigen::Map<RowMajor<T>>(out.data_ptr<T>() + p * rows * cols, rows, cols);
}

/// x / max(||x||, eps), in place, as normalize(x, 0, eps).
template <class T>
void normalize(Eigen::Map<Vector<T>> x, T eps) {
  x /= at_least(x.norm(), eps);
}

}  // namespace

void CpuBackend::spectral_norm(const Tensor& w, const Tensor& u, const Tensor& v, int steps,
                               double eps, const Tensor& u_out, const Tensor& v_out,
                               const Tensor& sigma, const Tensor& out) {
  visit_floating("spectral_norm", w.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const BlockMatrix<T> matrix(w);
    const T e = static_cast<T>(eps);
    const Eigen::Index m = matrix.rows(), n = matrix.slabs() * matrix.slab_cols();
    Eigen::Map<Vector<T>> u_buffer(u.data_ptr<T>(), m), v_buffer(v.data_ptr<T>(), n);
    // The iterates live in the outputs; the buffers get the last ones.
    Eigen::Map<Vector<T>> u_next(u_out.data_ptr<T>(), m), v_next(v_out.data_ptr<T>(), n);
    u_next = u_buffer;
    v_next = v_buffer;
    for (int step = 0; step < steps; ++step) {
      matrix.transposed_times(u_next.data(), v_next.data());
      normalize(v_next, e);
      matrix.times(v_next.data(), u_next.data());
      normalize(u_next, e);
    }
    if (steps > 0) {
      u_buffer = u_next;
      v_buffer = v_next;
    }
    Vector<T> wv(m);
    matrix.times(v_next.data(), wv.data());
    const T value = u_next.dot(wv);
    *sigma.data_ptr<T>() = value;
    const T divisor = at_least(value, e);
    for (Eigen::Index p = 0; p < matrix.slabs(); ++p)
      output_slab<T>(out, p) = matrix.slab(p) / divisor;
  });
}

void CpuBackend::spectral_norm_backward(const Tensor& grad, const Tensor& w, const Tensor& u,
                                        const Tensor& v, const Tensor& sigma, double eps,
                                        const Tensor& grad_w) {
  visit_floating("spectral_norm_backward", w.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const BlockMatrix<T> matrix(w), g(grad);
    const T e = static_cast<T>(eps), value = *sigma.data_ptr<T>(), s = at_least(value, e);
    T inner = 0;
    for (Eigen::Index p = 0; p < matrix.slabs(); ++p)
      inner += g.slab(p).cwiseProduct(matrix.slab(p)).sum();
    // sigma's own gradient passes only where max(sigma, eps) took sigma.
    const T coefficient = value >= e ? inner / (s * s) : T(0);
    const Eigen::Map<const Vector<T>> left(u.data_ptr<T>(), matrix.rows());
    const Eigen::Index cols = matrix.slab_cols();
    for (Eigen::Index p = 0; p < matrix.slabs(); ++p) {
      const Eigen::Map<const Vector<T>> right(v.data_ptr<T>() + p * cols, cols);
      output_slab<T>(grad_w, p) = g.slab(p) / s - coefficient * (left * right.transpose());
    }
  });
}

}  // namespace tether::backend::cpu
