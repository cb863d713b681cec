// The CPU backend: Backend's kernels on host memory. Element-wise work maps
// buffers into Eigen arrays (strided.h); matrix products go to OpenBLAS or
// Eigen (matmul.cpp). The methods are defined per family in elementwise.cpp,
// reduce.cpp, matmul.cpp, indexing.cpp and linalg.cpp (Cholesky, triangular solves).
#pragma once

#include <cstdint>

#include "../common/kernel_support.h"  // visit_dtype, saturate_cast, cpu_backend()
#include "tether/backend/backend.h"

namespace tether::backend::cpu {

class CpuBackend final : public Backend {
 public:
  /// Settles the thread count (cpu_threads()), so that OpenBLAS gets it
  /// before the first product.
  CpuBackend() { cpu_threads(); }
  void fill(const Tensor& out, double value) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void unary(UnaryOp op, const Tensor& in, const Tensor& out, UnaryParams params) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce(ReduceOp op, const Tensor& in, std::uint32_t reduce_mask, const Tensor& out) override;
  void argmax(const Tensor& in, int dim, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void index_select(const Tensor& in, int dim, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) override;
  void gather(const Tensor& in, int dim, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) override;
  void scan(ScanOp op, const Tensor& in, int dim, bool reverse, const Tensor& out) override;
  void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const AdamStep& step) override;
  void add_scaled(const Tensor& out, const Tensor& x, double alpha) override;
  std::optional<NotPositiveDefinite> cholesky(const Tensor& in, const Tensor& out) override;
  void solve_triangular(const Tensor& a, const Tensor& rhs, const Tensor& out,
                        TriangularSystem system) override;
  void argmin(const Tensor& in, int dim, const Tensor& out) override;
  void sort(const Tensor& in, int dim, std::int64_t k, bool descending, const Tensor& values,
            const Tensor& indices) override;
  void multinomial(const Tensor& probs, const Tensor& uniforms, bool replacement,
                   const Tensor& out) override;
  void im2col(const Tensor& in, const ConvGeometry& geometry, const Tensor& out) override;
  void col2im(const Tensor& columns, const ConvGeometry& geometry, const Tensor& out) override;
  void spectral_norm(const Tensor& w, const Tensor& u, const Tensor& v, int steps, double eps,
                     const Tensor& u_out, const Tensor& v_out, const Tensor& sigma,
                     const Tensor& out) override;
  void spectral_norm_backward(const Tensor& grad, const Tensor& w, const Tensor& u, const Tensor& v,
                              const Tensor& sigma, double eps, const Tensor& grad_w) override;
  void conv2d(const Tensor& in, const Tensor& weight, const Tensor& bias,
              const ConvGeometry& geometry, std::int64_t groups, const Tensor& out) override;
  void conv2d_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                       const ConvGeometry& geometry, std::int64_t groups, const Tensor& grad_in,
                       const Tensor& grad_weight, const Tensor& grad_bias) override;
  void max_pool2d(const Tensor& in, const ConvGeometry& geometry, const Tensor& out,
                  const Tensor& indices) override;
  void batch_norm(const Tensor& in, const Tensor& weight, const Tensor& bias, double eps,
                  const Tensor& out, const Tensor& mean, const Tensor& var) override;
  void batch_norm_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                           const Tensor& mean, const Tensor& var, double eps, const Tensor& grad_in,
                           const Tensor& grad_weight, const Tensor& grad_bias) override;
};

}  // namespace tether::backend::cpu
