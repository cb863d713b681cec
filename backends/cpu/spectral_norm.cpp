// Spectral normalisation's power iteration and gradient (Backend::spectral_norm):
// matrix-vector products over the weight read in place, one call for what the
// composed ops would run as a dozen kernels (and as many passes over the
// weight's memory where it is large).
#include <Eigen/Core>
#include <cmath>

#include "cpu_backend.h"

namespace tether::backend::cpu {

namespace {

template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// max(x, eps) that keeps a NaN, as the clamp kernel does.
template <class T>
T at_least(T x, T eps) {
  return std::isnan(x) || x >= eps ? x : eps;
}

/// Slab p ([m, Q], columns p * Q .. p * Q + Q - 1 of the matrix W) of a
/// contiguous [P, m, Q] tensor (see Backend::spectral_norm).
template <class T>
Eigen::Map<RowMajor<T>> slab(const Tensor& t, Eigen::Index p) {
  const Eigen::Index rows = t.size(1), cols = t.size(2);
  return Eigen::Map<RowMajor<T>>(t.data_ptr<T>() + p * rows * cols, rows, cols);
}

/// out [m] = W x for x [P * Q].
template <class T>
void times(const Tensor& w, const T* x, Eigen::Map<Vector<T>> out) {
  const Eigen::Index cols = w.size(2);
  out.setZero();
  for (Eigen::Index p = 0; p < w.size(0); ++p)
    out.noalias() += slab<T>(w, p) * Eigen::Map<const Vector<T>>(x + p * cols, cols);
}

/// out [P * Q] = W^T x for x [m].
template <class T>
void transposed_times(const Tensor& w, const T* x, T* out) {
  const Eigen::Index cols = w.size(2);
  const Eigen::Map<const Vector<T>> column(x, w.size(1));
  for (Eigen::Index p = 0; p < w.size(0); ++p)
    Eigen::Map<Vector<T>>(out + p * cols, cols).noalias() = slab<T>(w, p).transpose() * column;
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
    const T e = static_cast<T>(eps);
    const Eigen::Index m = w.size(1), n = w.size(0) * w.size(2);
    Eigen::Map<Vector<T>> u_buffer(u.data_ptr<T>(), m), v_buffer(v.data_ptr<T>(), n);
    // The iterates live in the outputs; the buffers get the last ones.
    Eigen::Map<Vector<T>> u_next(u_out.data_ptr<T>(), m), v_next(v_out.data_ptr<T>(), n);
    u_next = u_buffer;
    v_next = v_buffer;
    // W v of the last iterate: u's direction, and sigma = u . W v, so the
    // matrix is read once per product, not again for sigma.
    Vector<T> wv(m);
    if (steps == 0) times<T>(w, v_next.data(), Eigen::Map<Vector<T>>(wv.data(), m));
    for (int step = 0; step < steps; ++step) {
      transposed_times<T>(w, u_next.data(), v_next.data());
      normalize(v_next, e);
      times<T>(w, v_next.data(), Eigen::Map<Vector<T>>(wv.data(), m));
      u_next = wv;
      normalize(u_next, e);
    }
    if (steps > 0) {
      u_buffer = u_next;
      v_buffer = v_next;
    }
    const T value = u_next.dot(wv);
    *sigma.data_ptr<T>() = value;
    const T divisor = at_least(value, e);
    for (Eigen::Index p = 0; p < w.size(0); ++p) slab<T>(out, p) = slab<T>(w, p) / divisor;
  });
}

void CpuBackend::spectral_norm_backward(const Tensor& grad, const Tensor& w, const Tensor& u,
                                        const Tensor& v, const Tensor& sigma, double eps,
                                        const Tensor& grad_w) {
  visit_floating("spectral_norm_backward", w.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T e = static_cast<T>(eps), value = *sigma.data_ptr<T>(), s = at_least(value, e);
    T inner = 0;
    for (Eigen::Index p = 0; p < w.size(0); ++p)
      inner += slab<T>(grad, p).cwiseProduct(slab<T>(w, p)).sum();
    // sigma's own gradient passes only where max(sigma, eps) took sigma.
    const T coefficient = value >= e ? inner / (s * s) : T(0);
    const T* const left = u.data_ptr<T>();
    const Eigen::Index cols = w.size(2);
    // Row by row: an outer product in one expression would be made whole first.
    for (Eigen::Index p = 0; p < w.size(0); ++p) {
      const Eigen::Map<const Vector<T>> right(v.data_ptr<T>() + p * cols, cols);
      auto g = slab<T>(grad, p), out = slab<T>(grad_w, p);
      for (Eigen::Index i = 0; i < w.size(1); ++i)
        out.row(i) = g.row(i) / s - (coefficient * left[i]) * right.transpose();
    }
  });
}

}  // namespace tether::backend::cpu
