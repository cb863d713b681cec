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

}  // namespace tether::backend::cpu
