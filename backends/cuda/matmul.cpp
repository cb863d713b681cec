// Batched matrix products through cuBLAS.
//
// cuBLAS is column-major, and a row-major matrix is its column-major
// transpose, so the row-major product C = A B is computed as the column-major
// C^T = B^T A^T: cuBLAS reads our B as its first operand. An operand that is
// row-major (a plain matrix) goes in untransposed, one that is column-major (a
// transposed view) goes in with the transpose flag; only a matrix that is
// neither is packed into a contiguous copy. Batch-broadcast operands keep
// batch stride 0, which cublas<t>gemmStridedBatched accepts.
#include <cublas_v2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>

#include "cuda_backend.h"
#include "tether/error.h"

namespace tether::backend::cuda {
namespace {

/// One operand's matrices as cuBLAS takes them.
struct GemmOperand {
  const void* data;
  bool transposed;            ///< column-major in our (row-major) terms
  std::int64_t leading;       ///< elements between rows (row-major) or columns
  std::int64_t batch_stride;  ///< 0 when every batch shares one matrix
};

/// Rank-3 `t` as a cuBLAS operand, packed into `packed` when neither layout fits.
GemmOperand gemm_operand(const Tensor& t, Tensor& packed) {
  const std::int64_t rows = t.shape()[1], cols = t.shape()[2];
  const std::int64_t batch_stride = t.shape()[0] == 1 ? 0 : t.strides()[0];
  if (const auto layout = matrix_layout(t))
    return {t.raw_data(), layout->column_major, layout->leading, batch_stride};
  packed = Tensor::empty(t.shape(), t.dtype(), t.device());
  cuda_backend(t.device()).copy(t, packed);
  return {packed.raw_data(), false, cols, rows * cols};
}

void check_cublas(cublasStatus_t status) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail<Error>("matmul: cuBLAS failed: ", cublasGetStatusString(status));
}

/// This thread's cuBLAS handle for `device`, bound to the device's stream.
/// (A handle must not be used by two threads at once, hence one per thread.)
cublasHandle_t handle(Device device) {
  thread_local std::array<cublasHandle_t, 16> handles{};
  const cudaStream_t stream = activate(device);
  cublasHandle_t& h = handles.at(static_cast<std::size_t>(device.index));
  if (!h) {
    check_cublas(cublasCreate(&h));
    check_cublas(cublasSetStream(h, stream));
  }
  return h;
}

cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const float* a, int lda, long long stride_a, const float* b, int ldb,
                    long long stride_b, float* c, int ldc, long long stride_c, int batches) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, stride_a, b, ldb, stride_b,
                                   &zero, c, ldc, stride_c, batches);
}
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const double* a, int lda, long long stride_a, const double* b, int ldb,
                    long long stride_b, double* c, int ldc, long long stride_c, int batches) {
  const double one = 1.0, zero = 0.0;
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, stride_a, b, ldb, stride_b,
                                   &zero, c, ldc, stride_c, batches);
}

template <class T>
void matmul_typed(const Tensor& a_tensor, const Tensor& b_tensor, const Tensor& out) {
  Tensor packed_a, packed_b;
  const GemmOperand a = gemm_operand(a_tensor, packed_a);
  const GemmOperand b = gemm_operand(b_tensor, packed_b);
  std::int64_t batches = out.shape()[0], m = out.shape()[1];
  const std::int64_t n = out.shape()[2], k = a_tensor.shape()[2];
  // x @ W with one shared W and row-major x: the batches stack into one taller
  // product, which runs faster than a batch of short ones.
  if (batches > 1 && b.batch_stride == 0 && !a.transposed && a.batch_stride == m * a.leading) {
    m *= batches;
    batches = 1;
  }
  const auto op = [](const GemmOperand& x) { return x.transposed ? CUBLAS_OP_T : CUBLAS_OP_N; };
  const auto i32 = [](std::int64_t v) { return static_cast<int>(v); };
  check_cublas(gemm(handle(out.device()), op(b), op(a), i32(n), i32(m), i32(k),
                    static_cast<const T*>(b.data), i32(b.leading), b.batch_stride,
                    static_cast<const T*>(a.data), i32(a.leading), a.batch_stride,
                    out.data_ptr<T>(), i32(n), m * n, i32(batches)));
}

}  // namespace

void CudaBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (!out.is_contiguous()) fail<ValueError>("matmul: the output must be contiguous");
  if (out.numel() == 0) return;
  if (a.shape()[2] == 0) return fill(out, 0.0);
  if (out.dtype() == DType::f32) return matmul_typed<float>(a, b, out);
  if (out.dtype() == DType::f64) return matmul_typed<double>(a, b, out);
  // cuBLAS has no 64-bit integer GEMM (nor has PyTorch on CUDA).
  fail<DTypeError>("matmul: ", out.dtype(),
                   " products are not implemented on CUDA; compute them on the CPU or convert "
                   "with .to(DType::f64)");
}

}  // namespace tether::backend::cuda
