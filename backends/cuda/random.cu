// multinomial on a GPU: one thread per row of weights, running the CPU's
// row sampler (common/multinomial.h) on the same uniforms.
#include "../common/kernel_support.h"  // visit_floating
#include "../common/multinomial.h"
#include "strided.cuh"

namespace tether::backend::cuda {
namespace {

template <class T>
struct SampleRow {
  const T* w;
  const double* uniforms;
  std::int64_t* out;
  std::int64_t categories, draws, samples;
  bool replacement;
  __device__ void operator()(const std::int64_t (&at)[1]) const {
    const std::int64_t row = at[0];
    multinomial_row(w + row * categories, categories, uniforms + row * draws, samples, replacement,
                    out + row * samples);
  }
};

}  // namespace

void CudaBackend::multinomial(const Tensor& probs, const Tensor& uniforms, bool replacement,
                              const Tensor& out) {
  const std::int64_t rows = probs.shape()[0];
  visit_floating("multinomial", probs.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(
        out.device(), StridedLayout<1>(Shape{rows}, {Strides{1}}),
        SampleRow<T>{probs.data_ptr<T>(), uniforms.data_ptr<double>(), out.data_ptr<std::int64_t>(),
                     probs.shape()[1], uniforms.shape()[1], out.shape()[1], replacement});
  });
}

}  // namespace tether::backend::cuda
