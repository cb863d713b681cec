// Square f32 matrix product throughput on a CUDA device, C = A B, for
// tether::matmul against raw cublasSgemm in the same run:
//
//   tether  c = tether::matmul(a, b) on CUDA tensors, result dropped each call
//           (so it includes tether's dispatch and its caching allocator)
//   cublas  cublasSgemm into a preallocated C, on the default stream
//
// GFLOP/s = 2 n^3 / median time per call. Each sample runs enough calls to
// last ~50 ms, then synchronises the device before reading the clock; both
// are warmed up first. Prints `name value unit` lines (bench.h's format) and
// tether's share of cuBLAS's throughput. Exits 0 without figures when no CUDA
// device is usable.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <tether/tether.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace {

using tether::Tensor;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "gemm_cuda: %s failed\n", what);
    std::exit(1);
  }
}

/// Median seconds per call of `body(calls)` over `samples` samples.
double median_seconds(const std::function<void(long)>& body, int samples = 7) {
  using Clock = std::chrono::steady_clock;
  const auto time = [&](long calls) {
    check(cudaDeviceSynchronize() == cudaSuccess, "cudaDeviceSynchronize");
    const auto start = Clock::now();
    body(calls);
    check(cudaDeviceSynchronize() == cudaSuccess, "cudaDeviceSynchronize");
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  time(2);  // warm-up: handles, kernels, cached blocks
  const double once = time(1);
  const long calls = std::max(1L, static_cast<long>(0.05 / std::max(once, 1e-7)));
  std::vector<double> per_call;
  for (int s = 0; s < samples; ++s) per_call.push_back(time(calls) / static_cast<double>(calls));
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace

int main() {
  if (!tether::cuda_is_available()) {
    std::printf("# gemm_cuda: no usable CUDA device; nothing measured\n");
    return 0;
  }
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, 0) == cudaSuccess, "cudaGetDeviceProperties");
  std::printf("# device: %s; f32 without TF32 (cuBLAS default math mode) for both\n",
              properties.name);
  cublasHandle_t handle;
  check(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
  const tether::TensorOptions on_gpu = tether::TensorOptions().with_device(tether::Device::cuda());
  for (const std::int64_t n : {1024, 4096, 8192}) {
    const Tensor a = tether::randn({n, n}, on_gpu), b = tether::randn({n, n}, on_gpu);
    const Tensor c = tether::empty({n, n}, on_gpu);
    const float one = 1.0f, zero = 0.0f;
    const int size = static_cast<int>(n);
    // Row-major C = A B is column-major C^T = B^T A^T.
    const auto sgemm = [&] {
      cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, size, size, size, &one, b.data_ptr<float>(),
                  size, a.data_ptr<float>(), size, &zero, c.data_ptr<float>(), size);
    };
    const double tether_s = median_seconds([&](long calls) {
      for (long i = 0; i < calls; ++i) tether::matmul(a, b);
    });
    const double cublas_s = median_seconds([&](long calls) {
      for (long i = 0; i < calls; ++i) sgemm();
    });
    sgemm();
    const double difference = tether::amax(tether::abs(tether::matmul(a, b) - c)).item<float>();
    const double flop = 2.0 * std::pow(static_cast<double>(n), 3);
    std::printf("gemm_cuda_tether_n%ld %.1f GFLOP/s\n", static_cast<long>(n),
                flop / tether_s / 1e9);
    std::printf("gemm_cuda_cublas_n%ld %.1f GFLOP/s\n", static_cast<long>(n),
                flop / cublas_s / 1e9);
    std::printf("gemm_cuda_ratio_n%ld %.3f tether/cublas\n", static_cast<long>(n),
                cublas_s / tether_s);
    std::printf("# n=%ld: max |tether - cublas| = %g\n", static_cast<long>(n), difference);
  }
  cublasDestroy(handle);
  return 0;
}
