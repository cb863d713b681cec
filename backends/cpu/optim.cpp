// Optimizer update loops fused into one pass over the parameter and its state.
#include <cmath>
#include <cstdint>

#include "cpu_backend.h"
#include "strided.h"

namespace tether::backend::cpu {

void CpuBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                           const Tensor& exp_avg_sq, const AdamStep& step) {
  visit_floating("adam_step", param.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const auto beta1 = static_cast<T>(step.beta1), beta2 = static_cast<T>(step.beta2);
    // Element by element, so the threads' chunks give the bits of one pass
    // (its operations are exact in Eigen's packet and scalar paths alike).
    parallel_for(0, param.numel(), kParallelGrain / 4, [&](std::int64_t begin, std::int64_t end) {
      const Eigen::Index n = end - begin;
      ColumnMap<T> p(param.data_ptr<T>() + begin, n), m(exp_avg.data_ptr<T>() + begin, n),
          v(exp_avg_sq.data_ptr<T>() + begin, n);
      const ColumnMap<const T> g(grad.data_ptr<T>() + begin, n);
      m = beta1 * m + (1 - beta1) * g;
      v = beta2 * v + (1 - beta2) * g.square();
      p -= static_cast<T>(step.step_size) * m /
           (v.sqrt() * static_cast<T>(step.inv_sqrt_correction2) + static_cast<T>(step.eps));
    });
  });
}

}  // namespace tether::backend::cpu
