// Cholesky factorisation and triangular solves of CUDA tensors, on the host:
// the operands are copied to the CPU, the CPU backend's kernels run, and the
// result is copied back. The matrices these ops meet (a Gaussian process's
// kernel matrix, a covariance factor) are small, and one correct path shared
// with the CPU is worth more here than cuSOLVER's speed on large ones.
#include "../common/kernel_support.h"  // cpu_backend()
#include "cuda_backend.h"

namespace tether::backend::cuda {
namespace {

/// A contiguous host copy of device tensor `t` (broadcast batches expanded).
Tensor to_host(const Tensor& t) {
  Tensor host = Tensor::empty(t.shape(), t.dtype(), Device::cpu());
  cuda_backend(t.device()).copy(t, host);
  return host;
}

/// An uninitialised host tensor shaped like `t`, for a CPU kernel's output.
Tensor host_like(const Tensor& t) {
  return Tensor::empty(t.shape(), t.dtype(), Device::cpu());
}

}  // namespace

std::optional<NotPositiveDefinite> CudaBackend::cholesky(const Tensor& in, const Tensor& out) {
  const Tensor result = host_like(out);
  const auto failure = cpu_backend().cholesky(to_host(in), result);
  if (!failure) copy(result, out);
  return failure;
}

void CudaBackend::solve_triangular(const Tensor& a, const Tensor& rhs, const Tensor& out,
                                   TriangularSystem system) {
  const Tensor result = host_like(out);
  cpu_backend().solve_triangular(to_host(a), to_host(rhs), result, system);
  copy(result, out);
}

}  // namespace tether::backend::cuda
