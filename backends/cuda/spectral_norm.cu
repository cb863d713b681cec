// Spectral normalisation's power iteration and gradient (Backend::spectral_norm),
// as the CPU's: one block runs the iteration (its vectors are short; the
// block's threads share each matrix-vector product), then an element-wise
// launch writes the normalised weight or its gradient.
#include <cmath>

#include "../common/kernel_support.h"  // visit_floating
#include "strided.cuh"

namespace tether::backend::cuda {

namespace {

constexpr int kThreads = 256;

/// The matrix W [m, P * Q] of a rank-3 view [P, m, Q]: W[i, p * Q + q] = w[p, i, q].
template <class T>
struct BlockMatrix {
  const T* data;
  std::int64_t slabs, rows, cols, slab_stride, row_stride, col_stride;

  __device__ T at(std::int64_t i, std::int64_t j) const {
    const std::int64_t p = j / cols, q = j - p * cols;
    return data[p * slab_stride + i * row_stride + q * col_stride];
  }
};

template <class T>
BlockMatrix<T> block_matrix(const Tensor& w) {
  return {w.data_ptr<T>(), w.size(0),      w.size(1),     w.size(2),
          w.strides()[0],  w.strides()[1], w.strides()[2]};
}

/// max(x, eps) that keeps a NaN, as the clamp kernel does.
template <class T>
__device__ T at_least(T x, T eps) {
  return isnan(x) || x >= eps ? x : eps;
}

/// The sum of every thread's `x` over the block, returned to all of them.
template <class T>
__device__ T block_sum(T x, T* shared) {
  shared[threadIdx.x] = x;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const T total = shared[0];
  __syncthreads();
  return total;
}

/// out = normalize(W x) (or of W^T x when `transposed`), of `n` elements.
template <class T>
__device__ void normalized_product(const BlockMatrix<T>& w, bool transposed, const T* x, T* out,
                                   std::int64_t n, T eps, T* shared) {
  const std::int64_t k = transposed ? w.rows : w.slabs * w.cols;
  T squares = 0;
  for (std::int64_t r = threadIdx.x; r < n; r += kThreads) {
    T acc = 0;
    for (std::int64_t c = 0; c < k; ++c) acc += (transposed ? w.at(c, r) : w.at(r, c)) * x[c];
    out[r] = acc;
    squares += acc * acc;
  }
  const T norm = at_least(sqrt(block_sum(squares, shared)), eps);
  for (std::int64_t r = threadIdx.x; r < n; r += kThreads) out[r] /= norm;
  __syncthreads();
}

/// The power iteration and sigma of Backend::spectral_norm, in one block.
template <class T>
__global__ void power_iteration_kernel(BlockMatrix<T> w, T* u, T* v, int steps, T eps, T* u_out,
                                       T* v_out, T* sigma) {
  __shared__ T shared[kThreads];
  const std::int64_t m = w.rows, n = w.slabs * w.cols;
  for (std::int64_t i = threadIdx.x; i < m; i += kThreads) u_out[i] = u[i];
  for (std::int64_t j = threadIdx.x; j < n; j += kThreads) v_out[j] = v[j];
  __syncthreads();
  for (int step = 0; step < steps; ++step) {
    normalized_product(w, true, u_out, v_out, n, eps, shared);
    normalized_product(w, false, v_out, u_out, m, eps, shared);
  }
  if (steps > 0) {
    for (std::int64_t i = threadIdx.x; i < m; i += kThreads) u[i] = u_out[i];
    for (std::int64_t j = threadIdx.x; j < n; j += kThreads) v[j] = v_out[j];
  }
  T partial = 0;
  for (std::int64_t i = threadIdx.x; i < m; i += kThreads) {
    T acc = 0;
    for (std::int64_t j = 0; j < n; ++j) acc += w.at(i, j) * v_out[j];
    partial += u_out[i] * acc;
  }
  const T total = block_sum(partial, shared);
  if (threadIdx.x == 0) *sigma = total;
}

/// out = w / max(*sigma, eps); operands out, w.
template <class T>
struct Divide {
  T* out;
  const T* w;
  const T* sigma;
  T eps;
  __device__ void operator()(const std::int64_t (&at)[2]) const {
    out[at[0]] = w[at[1]] / at_least(*sigma, eps);
  }
};

/// *coefficient = [sigma >= eps] <grad, w> / max(sigma, eps)^2, in one block.
template <class T>
__global__ void coefficient_kernel(StridedLayout<2> layout, const T* grad, const T* w,
                                   const T* sigma, T eps, T* coefficient) {
  __shared__ T shared[kThreads];
  T partial = 0;
  for (std::int64_t e = threadIdx.x; e < layout.numel; e += kThreads) {
    std::int64_t at[2];
    layout.offsets(e, at);
    partial += grad[at[0]] * w[at[1]];
  }
  const T inner = block_sum(partial, shared);
  if (threadIdx.x == 0) {
    const T s = at_least(*sigma, eps);
    *coefficient = *sigma >= eps ? inner / (s * s) : T(0);
  }
}

/// grad_w = grad / max(sigma, eps) - coefficient u v^T; operands grad_w,
/// grad, u and v (broadcast over the [P, m, Q] view).
template <class T>
struct Gradient {
  T* grad_w;
  const T* grad;
  const T* u;
  const T* v;
  const T* sigma;
  const T* coefficient;
  T eps;
  __device__ void operator()(const std::int64_t (&at)[4]) const {
    grad_w[at[0]] = grad[at[1]] / at_least(*sigma, eps) - *coefficient * u[at[2]] * v[at[3]];
  }
};

}  // namespace

void CudaBackend::spectral_norm(const Tensor& w, const Tensor& u, const Tensor& v, int steps,
                                double eps, const Tensor& u_out, const Tensor& v_out,
                                const Tensor& sigma, const Tensor& out) {
  visit_floating("spectral_norm", w.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T e = static_cast<T>(eps);
    power_iteration_kernel<<<1, kThreads, 0, activate(w.device())>>>(
        block_matrix<T>(w), u.data_ptr<T>(), v.data_ptr<T>(), steps, e, u_out.data_ptr<T>(),
        v_out.data_ptr<T>(), sigma.data_ptr<T>());
    check(cudaGetLastError(), "spectral_norm: kernel launch");
    launch(w.device(), StridedLayout<2>(w.shape(), {out.strides(), w.strides()}),
           Divide<T>{out.data_ptr<T>(), w.data_ptr<T>(), sigma.data_ptr<T>(), e});
  });
}

void CudaBackend::spectral_norm_backward(const Tensor& grad, const Tensor& w, const Tensor& u,
                                         const Tensor& v, const Tensor& sigma, double eps,
                                         const Tensor& grad_w) {
  visit_floating("spectral_norm_backward", w.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T e = static_cast<T>(eps);
    const Tensor coefficient = Tensor::empty({}, w.dtype(), w.device());
    coefficient_kernel<<<1, kThreads, 0, activate(w.device())>>>(
        StridedLayout<2>(w.shape(), {grad.strides(), w.strides()}), grad.data_ptr<T>(),
        w.data_ptr<T>(), sigma.data_ptr<T>(), e, coefficient.data_ptr<T>());
    check(cudaGetLastError(), "spectral_norm_backward: kernel launch");
    // u and v seen through the [P, m, Q] view: u along m, v along P and Q.
    const std::int64_t cols = w.size(2);
    launch(w.device(),
           StridedLayout<4>(w.shape(), {grad_w.strides(), grad.strides(), Strides{0, 1, 0},
                                        Strides{cols, 0, 1}}),
           Gradient<T>{grad_w.data_ptr<T>(), grad.data_ptr<T>(), u.data_ptr<T>(), v.data_ptr<T>(),
                       sigma.data_ptr<T>(), coefficient.data_ptr<T>(), e});
  });
}

}  // namespace tether::backend::cuda
