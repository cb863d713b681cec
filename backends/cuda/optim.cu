// Optimizer update loops fused into one pass over the parameter and its state.
#include <cmath>

#include "../common/kernel_support.h"  // visit_floating
#include "strided.cuh"

namespace tether::backend::cuda {

namespace {

/// One element of an Adam step (see AdamStep); operands param, grad, exp_avg, exp_avg_sq.
template <class T>
struct AdamElement {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T beta1, beta2, step_size, inv_sqrt_correction2, eps;

  __device__ void operator()(const std::int64_t (&at)[4]) const {
    const T g = grad[at[1]];
    const T m = beta1 * exp_avg[at[2]] + (1 - beta1) * g;
    const T v = beta2 * exp_avg_sq[at[3]] + (1 - beta2) * g * g;
    exp_avg[at[2]] = m;
    exp_avg_sq[at[3]] = v;
    param[at[0]] -= step_size * m / (sqrt(v) * inv_sqrt_correction2 + eps);
  }
};

/// out += alpha * x for one element; operands out, x.
template <class T>
struct AddScaledElement {
  T* out;
  const T* x;
  T alpha;

  __device__ void operator()(const std::int64_t (&at)[2]) const {
    out[at[0]] = fma(alpha, x[at[1]], out[at[0]]);
  }
};

}  // namespace

void CudaBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                            const Tensor& exp_avg_sq, const AdamStep& step) {
  visit_floating("adam_step", param.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const StridedLayout<4> layout(
        param.shape(), {param.strides(), grad.strides(), exp_avg.strides(), exp_avg_sq.strides()});
    launch(param.device(), layout,
           AdamElement<T>{param.data_ptr<T>(), grad.data_ptr<T>(), exp_avg.data_ptr<T>(),
                          exp_avg_sq.data_ptr<T>(), static_cast<T>(step.beta1),
                          static_cast<T>(step.beta2), static_cast<T>(step.step_size),
                          static_cast<T>(step.inv_sqrt_correction2), static_cast<T>(step.eps)});
  });
}

void CudaBackend::add_scaled(const Tensor& out, const Tensor& x, double alpha) {
  visit_floating("add_scaled", out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), StridedLayout<2>(out.shape(), {out.strides(), x.strides()}),
           AddScaledElement<T>{out.data_ptr<T>(), x.data_ptr<T>(), static_cast<T>(alpha)});
  });
}

}  // namespace tether::backend::cuda
