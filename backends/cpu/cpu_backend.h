// The CPU backend: Backend's kernels on host memory. Element-wise work maps
// buffers into Eigen arrays (strided.h); matrix products go to OpenBLAS or
// Eigen (matmul.cpp). The methods are defined per family in elementwise.cpp,
// reduce.cpp, matmul.cpp, indexing.cpp and linalg.cpp (Cholesky, triangular solves).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "../integer_arithmetic.h"  // saturate_cast, the Wrapping functors
#include "tether/backend/backend.h"
#include "tether/error.h"

namespace tether::backend {

/// The CPU backend's one instance (defined in cpu_backend.cpp).
Backend& cpu_backend();

namespace cpu {

class CpuBackend final : public Backend {
 public:
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
  void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const AdamStep& step) override;
  std::optional<NotPositiveDefinite> cholesky(const Tensor& in, const Tensor& out) override;
  void solve_triangular(const Tensor& a, const Tensor& rhs, const Tensor& out,
                        TriangularSystem system) override;
};

/// Calls `f(std::type_identity<T>{})` with T the C++ element type of `dtype`;
/// the one place where a runtime dtype becomes a template argument.
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(std::type_identity<float>{});
    case DType::f64:
      return f(std::type_identity<double>{});
    case DType::i64:
      break;
  }
  return f(std::type_identity<std::int64_t>{});
}

/// visit_dtype for kernels that exist only for floating types; throws
/// DTypeError naming `op` for i64.
template <class F>
decltype(auto) visit_floating(const char* op, DType dtype, F&& f) {
  if (dtype == DType::f32) return f(std::type_identity<float>{});
  if (dtype == DType::f64) return f(std::type_identity<double>{});
  fail<DTypeError>(op, ": expected a floating dtype (f32 or f64), got ", dtype);
}

}  // namespace cpu
}  // namespace tether::backend
