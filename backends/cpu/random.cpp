// multinomial on the CPU: one row of weights after another.
#include "../common/multinomial.h"
#include "cpu_backend.h"

namespace tether::backend::cpu {

void CpuBackend::multinomial(const Tensor& probs, const Tensor& uniforms, bool replacement,
                             const Tensor& out) {
  const std::int64_t rows = probs.shape()[0], categories = probs.shape()[1];
  const std::int64_t samples = out.shape()[1], draws = uniforms.shape()[1];
  const double* const u = uniforms.data_ptr<double>();
  std::int64_t* const indices = out.data_ptr<std::int64_t>();
  visit_floating("multinomial", probs.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const T* const w = probs.data_ptr<T>();
    for (std::int64_t r = 0; r < rows; ++r)
      multinomial_row(w + r * categories, categories, u + r * draws, samples, replacement,
                      indices + r * samples);
  });
}

}  // namespace tether::backend::cpu
