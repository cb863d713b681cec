// Optimizer update loops fused into one pass over the parameter and its state.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {

namespace {

/// Adam's update of elements [0, n): the moments m and v, then p. Every
/// multiply-add is an explicit std::fma and the rest cannot be contracted, so
/// the vectorised body and the scalar remainder round alike: an element's
/// result does not depend on where a chunk starts, and a split over threads
/// gives one thread's bits. (Arguments by value and restrict pointers, so that
/// GCC vectorises without checking for overlaps.)
template <class T>
void adam_elements(std::int64_t n, T* __restrict p, const T* __restrict g, T* __restrict m,
                   T* __restrict v, T beta1, T beta2, T step_size, T inv_sqrt_correction2, T eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T m_i = std::fma(beta1, m[i], (1 - beta1) * g[i]);
    const T v_i = std::fma(beta2, v[i], (1 - beta2) * g[i] * g[i]);
    m[i] = m_i;
    v[i] = v_i;
    p[i] -= step_size * m_i / std::fma(std::sqrt(v_i), inv_sqrt_correction2, eps);
  }
}

/// out[i] += alpha * x[i] for i < n, as one fused multiply-add each, so the
/// vectorised body and the remainder round alike (see adam_elements).
template <class T>
void add_scaled_elements(std::int64_t n, T* __restrict out, const T* __restrict x, T alpha) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = std::fma(alpha, x[i], out[i]);
}

}  // namespace

void CpuBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                           const Tensor& exp_avg_sq, const AdamStep& step) {
  visit_floating("adam_step", param.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    // One pass over the four arrays (three writes): their memory traffic is
    // the step's cost.
    parallel_for(0, param.numel(), kParallelGrain / 4, [&](std::int64_t begin, std::int64_t end) {
      adam_elements<T>(end - begin, param.data_ptr<T>() + begin, grad.data_ptr<T>() + begin,
                       exp_avg.data_ptr<T>() + begin, exp_avg_sq.data_ptr<T>() + begin,
                       static_cast<T>(step.beta1), static_cast<T>(step.beta2),
                       static_cast<T>(step.step_size), static_cast<T>(step.inv_sqrt_correction2),
                       static_cast<T>(step.eps));
    });
  });
}

void CpuBackend::add_scaled(const Tensor& out, const Tensor& x, double alpha) {
  visit_floating("add_scaled", out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T scale = static_cast<T>(alpha);
    if (x.is_contiguous() && x.shape() == out.shape()) {
      parallel_for(0, out.numel(), kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
        add_scaled_elements<T>(end - begin, out.data_ptr<T>() + begin, x.data_ptr<T>() + begin,
                               scale);
      });
      return;
    }
    // A broadcast x (a bias-like row, a scalar): element by element.
    map_elementwise(
        [scale](const auto& o, const auto& v) {
          return o.binaryExpr(v, [scale](T a, T b) { return std::fma(scale, b, a); });
        },
        out.shape(), operand<T>(out), operand<const T>(out), operand<const T>(x));
  });
}

}  // namespace tether::backend::cpu
