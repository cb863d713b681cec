// Optimizer update loops fused into one pass over the parameter and its state.
#include <algorithm>
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
    // Chunks start where param's elements sit on a 64-byte boundary: there
    // Eigen's vectorised loop treats every element as one pass over the
    // whole tensor would (the scalar peel and tail may round differently,
    // contracted into FMAs), so the threads give the bits of one thread
    // whenever param and its state share their alignment, as an optimizer's
    // freshly allocated state does.
    T* const param_data = param.data_ptr<T>();
    const std::int64_t numel = param.numel();
    const auto aligned = [&](std::int64_t i) {
      const auto misaligned = reinterpret_cast<std::uintptr_t>(param_data + i) % 64;
      const auto skip = static_cast<std::int64_t>((64 - misaligned) % 64 / sizeof(T));
      return i == 0 ? i : std::min(i + skip, numel);
    };
    parallel_for(0, numel, kParallelGrain / 4, [&](std::int64_t first, std::int64_t last) {
      const std::int64_t begin = aligned(first), end = aligned(last);
      const Eigen::Index n = end - begin;
      ColumnMap<T> p(param_data + begin, n), m(exp_avg.data_ptr<T>() + begin, n),
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
