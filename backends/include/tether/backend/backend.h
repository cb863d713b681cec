// The kernel interface: what a device must implement for every op to run on it.
//
// Kernels know tensors only as shape + strides + dtype + storage; they never see
// graphs. Ops (autograd/) check arguments, allocate outputs and call exactly one
// Backend per op, chosen by the inputs' device. Unless a method says otherwise,
// outputs are freshly allocated, contiguous and of the right shape and dtype,
// inputs may have arbitrary strides (including 0 for broadcast dimensions), and
// all tensors share one device.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "tether/adam_step.h"
#include "tether/tensor.h"

namespace tether::backend {

enum class UnaryOp : std::uint8_t {
  neg,
  exp,
  log,
  log1p,
  sqrt,
  rsqrt,
  abs,
  sign,
  sin,
  cos,
  tanh,
  sigmoid,
  relu,
  erf,
  erfc,
  lgamma,
  digamma,
  polygamma,       // the alpha-th derivative of digamma (alpha a non-negative integer)
  log_ndtr,        // log of the standard normal CDF
  log_ndtr_slope,  // its derivative, phi(x) / Phi(x)
  softplus,        // log(1 + exp(x)), computed without overflow
  reciprocal,
  affine,      // alpha * x + beta
  pow,         // x ^ alpha
  clamp,       // min(max(x, alpha), beta); alpha/beta may be -inf/+inf
  leaky_relu,  // x > 0 ? x : alpha * x
  expm1,       // exp(x) - 1, accurate near 0
  atan,
  erfinv,  // the inverse of erf
};

/// Whether `op` is floating-only: it has no integer kernel, and the backends
/// throw DTypeError for it on i64 (autograd converts integers to a floating
/// dtype first, or refuses them as PyTorch does). The others map integers to
/// integers. The one list of them: a new op fails to compile until it is here.
constexpr bool floating_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg:
    case UnaryOp::abs:
    case UnaryOp::sign:
    case UnaryOp::relu:
    case UnaryOp::affine:
    case UnaryOp::clamp:
      return false;
    case UnaryOp::exp:
    case UnaryOp::log:
    case UnaryOp::log1p:
    case UnaryOp::sqrt:
    case UnaryOp::rsqrt:
    case UnaryOp::sin:
    case UnaryOp::cos:
    case UnaryOp::tanh:
    case UnaryOp::sigmoid:
    case UnaryOp::erf:
    case UnaryOp::erfc:
    case UnaryOp::lgamma:
    case UnaryOp::digamma:
    case UnaryOp::polygamma:
    case UnaryOp::log_ndtr:
    case UnaryOp::log_ndtr_slope:
    case UnaryOp::softplus:
    case UnaryOp::reciprocal:
    case UnaryOp::pow:
    case UnaryOp::leaky_relu:
    case UnaryOp::expm1:
    case UnaryOp::atan:
    case UnaryOp::erfinv:
      return true;
  }
  return true;  // unreachable: the switch names every op
}

/// Parameters for the parameterised unary ops (see UnaryOp).
struct UnaryParams {
  double alpha = 0.0;
  double beta = 0.0;
};

enum class BinaryOp : std::uint8_t {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  relu_backward,  // a where b > 0 or b is NaN, else 0: relu's gradient a at its input b
  // Predicates (is_predicate): a boolean output; a and b share the dtype
  // they are compared in, which may be boolean too.
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  logical_and,  // the logical ops take nonzero as true
  logical_or,
  logical_xor,
};

/// Whether `op` is a predicate: a comparison or a logical op, whose output
/// is boolean whatever its operands' dtype. The other ops are arithmetic:
/// operands and output of one dtype, f32, f64 or i64.
constexpr bool is_predicate(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
    case BinaryOp::mul:
    case BinaryOp::div:
    case BinaryOp::pow:
    case BinaryOp::maximum:
    case BinaryOp::minimum:
    case BinaryOp::relu_backward:
      return false;
    case BinaryOp::eq:
    case BinaryOp::ne:
    case BinaryOp::lt:
    case BinaryOp::le:
    case BinaryOp::gt:
    case BinaryOp::ge:
    case BinaryOp::logical_and:
    case BinaryOp::logical_or:
    case BinaryOp::logical_xor:
      return true;
  }
  return true;  // unreachable: the switch names every op
}

/// On a boolean input, max is "any" and min is "all" (sum is the ops' to
/// count, in i64).
enum class ReduceOp : std::uint8_t { sum, max, min };

/// The running combination of a scan: cumulative sum or product.
enum class ScanOp : std::uint8_t { sum, prod };

/// Where a Cholesky factorisation stopped: the matrix's index in the batch and
/// the order k of its leading minor that is not positive definite (1-based,
/// as LAPACK's potrf reports it).
struct NotPositiveDefinite {
  std::int64_t batch;
  std::int64_t order;
};

/// Which triangular system solve_triangular solves (as torch.linalg.solve_triangular).
struct TriangularSystem {
  bool upper;          ///< A's upper triangle is read, else its lower one
  bool left;           ///< A X = B, else X A = B
  bool unitriangular;  ///< A's diagonal is taken as ones and not read
};

/// A 2-d convolution's window over an [N, C, H, W] input, as im2col and col2im
/// read it: output position (r, s)'s tap (i, j) is the input pixel
/// (r * stride_h + i * dilation_h - pad_h, s * stride_w + j * dilation_w - pad_w).
struct ConvGeometry {
  std::int64_t batch, channels, height, width;
  std::int64_t out_height, out_width;
  std::int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};

/// Dtypes: every kernel takes f32, f64 and i64 unless its comment says it is
/// floating-only. Boolean tensors (masks) are taken by the kernels that move,
/// select or compare elements -- fill, copy, where, the predicates of binary,
/// reduce's max and min, index_select and gather -- and refused with a
/// DTypeError by the others; the ops promote or refuse masks before that.
class Backend {
 public:
  virtual ~Backend() = default;

  /// out[i] = value for every element of `out` (any strides).
  virtual void fill(const Tensor& out, double value) = 0;
  /// dst = src, element-wise with dtype conversion. `src` is broadcast to
  /// dst's shape through its strides; `dst` may be any non-overlapping view.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  /// out = op(in). `in` has out's shape.
  virtual void unary(UnaryOp op, const Tensor& in, const Tensor& out, UnaryParams params) = 0;
  /// out = op(a, b). `a` and `b` are already expanded to out's shape (stride 0
  /// where broadcast) and have out's dtype, except for the predicates
  /// (is_predicate), whose out is boolean.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  /// out = cond ? a : b for a boolean cond, all expanded to out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  /// Reduces `in` over the dimensions whose bit is set in `reduce_mask` (bit d
  /// for dimension d); `out` has in's rank with extent 1 on reduced dims.
  virtual void reduce(ReduceOp op, const Tensor& in, std::uint32_t reduce_mask,
                      const Tensor& out) = 0;
  /// out (i64) = index of the largest element along `dim`; out has in's rank
  /// with extent 1 at `dim`.
  virtual void argmax(const Tensor& in, int dim, const Tensor& out) = 0;
  /// Batched matrix product out[b] = a[b] @ b[b] for rank-3 a [B, M, K],
  /// b [B, K, N], out [B, M, N]. a and b may be transposed or batch-broadcast
  /// (batch stride 0) views; floating dtypes only.
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  /// out = in.index_select(dim, index) for a contiguous i64 `index` (rank 1).
  virtual void index_select(const Tensor& in, int dim, const Tensor& index, const Tensor& out) = 0;
  /// out.index_add_(dim, index, src): out[..., index[i], ...] += src[..., i, ...].
  /// `out` is contiguous and already initialised.
  virtual void index_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) = 0;
  /// out = in.gather(dim, index); index (i64) has out's shape.
  virtual void gather(const Tensor& in, int dim, const Tensor& index, const Tensor& out) = 0;
  /// out.scatter_add_(dim, index, src); `out` is contiguous and initialised.
  virtual void scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) = 0;
  /// Lower Cholesky factors L (A = L L^T) of the matrices of rank-3 `in` [B, n, n],
  /// of which only the lower triangle is read, into contiguous `out` [B, n, n]
  /// with zeros above the diagonal; floating dtypes only. Returns the first
  /// matrix that is not positive definite (`out` is then unspecified), else nothing.
  virtual std::optional<NotPositiveDefinite> cholesky(const Tensor& in, const Tensor& out) = 0;
  /// Solves the triangular systems a[b] X = rhs[b] (or X a[b] = rhs[b]) for
  /// rank-3 a [B, n, n], rhs and contiguous out [B, n, k] ([B, k, n] when
  /// !left); a and rhs may have any strides, batch-broadcast ones included.
  /// A zero on a's diagonal gives infinities or NaNs, as in LAPACK's trsm.
  virtual void solve_triangular(const Tensor& a, const Tensor& rhs, const Tensor& out,
                                TriangularSystem system) = 0;
  /// out[..., k, ...] = in[..., 0, ...] op ... op in[..., k, ...] along `dim`
  /// (an inclusive scan), or from the last element back to k when `reverse`;
  /// out has in's shape. Integer sums and products wrap around, as PyTorch's.
  virtual void scan(ScanOp op, const Tensor& in, int dim, bool reverse, const Tensor& out) = 0;
  /// One Adam step (see AdamStep) in place on param, exp_avg and exp_avg_sq,
  /// in one pass; all four tensors are contiguous, of one floating dtype and shape.
  virtual void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                         const Tensor& exp_avg_sq, const AdamStep& step) = 0;
  /// out += alpha * x in place, each element rounded once (a fused
  /// multiply-add): Tensor::add_(x, alpha) and sub_ without a temporary for
  /// alpha * x. `out` is contiguous, `x` broadcast to its shape (stride 0),
  /// both of one floating dtype.
  virtual void add_scaled(const Tensor& out, const Tensor& x, double alpha) = 0;

  // ---- selection: argmin beside argmax (reduce.cpp, reduce.cu), sort in
  // cpu/sort.cpp and cuda/sort.cu ----
  /// out (i64) = index of the first smallest element along `dim` (NaN counts
  /// as smaller than any number: the minimum propagates it, as PyTorch's);
  /// out has in's rank with extent 1 at `dim`.
  virtual void argmin(const Tensor& in, int dim, const Tensor& out) = 0;
  /// The first `k` (<= extent) elements of each slice of `in` along `dim`,
  /// sorted ascending or descending, into contiguous `values` (in's dtype) and
  /// `indices` (i64, positions along `dim`), which have in's shape with extent
  /// k at `dim`. NaN counts as larger than any number and equal elements keep
  /// their order (a stable sort), as in PyTorch's sort.
  virtual void sort(const Tensor& in, int dim, std::int64_t k, bool descending,
                    const Tensor& values, const Tensor& indices) = 0;

  // ---- random draws (cpu/random.cpp, cuda/random.cu) ----
  /// Category indices drawn from each row of contiguous `probs` [R, C]
  /// (floating, non-negative, valid as multinomial_row in common/ requires)
  /// into contiguous i64 `out` [R, S], turning contiguous f64 `uniforms` in
  /// [0, 1) into draws: [R, S] of them with replacement, [R, C] without.
  virtual void multinomial(const Tensor& probs, const Tensor& uniforms, bool replacement,
                           const Tensor& out) = 0;

  // ---- convolution's patches (cpu/conv.cpp, cuda/conv.cu) ----
  /// The patches of contiguous `in` [N, C, H, W] as the columns of contiguous
  /// `out` [C * kh * kw, N * H_out * W_out] (row (c, i, j): tap (i, j) of
  /// channel c; column (n, r, s): output position (r, s) of image n), 0 where
  /// a tap falls in the padding; floating dtypes only.
  virtual void im2col(const Tensor& in, const ConvGeometry& geometry, const Tensor& out) = 0;
  /// im2col's adjoint: `out` [N, C, H, W] (contiguous) = the sum, over the
  /// columns of contiguous `columns` [C * kh * kw, N * H_out * W_out], of
  /// each tap's value at the pixel it was read from (padding taps are dropped).
  virtual void col2im(const Tensor& columns, const ConvGeometry& geometry, const Tensor& out) = 0;

  // ---- spectral normalisation (cpu/spectral_norm.cpp, cuda/spectral_norm.cu) ----
  // The matrix W [m, P * Q] is read in place from a contiguous rank-3 `w`
  // [P, m, Q]: W[i, p * Q + q] = w[p, i, q], a weight with its normalised
  // dimension moved first and the others flattened. Every tensor is
  // contiguous, and all share one floating dtype.
  /// `steps` power iterations v = normalize(W^T u), u = normalize(W v), with
  /// normalize(x) = x / max(||x||, eps), updating u and v in place; then
  /// u_out, v_out = u, v, sigma (0-d) = u . (W v), unclamped, and out [P, m,
  /// Q] = w / max(sigma, eps).
  virtual void spectral_norm(const Tensor& w, const Tensor& u, const Tensor& v, int steps,
                             double eps, const Tensor& u_out, const Tensor& v_out,
                             const Tensor& sigma, const Tensor& out) = 0;
  /// The gradient of w / max(sigma, eps) with u and v held constant:
  /// grad_w = grad / s - [sigma >= eps] (<grad, w> / s^2) u v^T with s =
  /// max(sigma, eps); grad and grad_w are [P, m, Q].
  virtual void spectral_norm_backward(const Tensor& grad, const Tensor& w, const Tensor& u,
                                      const Tensor& v, const Tensor& sigma, double eps,
                                      const Tensor& grad_w) = 0;

  // ---- fused convolution and max pooling (cpu/conv.cpp; cuda/conv2d.cpp,
  // cuda/conv.cu) ----
  /// out [N, O, H_out, W_out] = the convolution of `in` [N, C, H, W] with
  /// `weight` [O, C / groups, kh, kw] plus `bias` [O] (undefined: none), all
  /// contiguous and of one floating dtype; `geometry` is in's window.
  virtual void conv2d(const Tensor& in, const Tensor& weight, const Tensor& bias,
                      const ConvGeometry& geometry, std::int64_t groups, const Tensor& out) = 0;
  /// conv2d's gradients for `grad_out` [N, O, H_out, W_out]: of the input into
  /// `grad_in`, of the weight into `grad_weight`, of the bias into `grad_bias`
  /// (each contiguous, of its operand's shape, or undefined when not wanted;
  /// all are overwritten).
  virtual void conv2d_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                               const ConvGeometry& geometry, std::int64_t groups,
                               const Tensor& grad_in, const Tensor& grad_weight,
                               const Tensor& grad_bias) = 0;
  /// The largest element of each window (the padding excluded) of contiguous
  /// `in` [N, C, H, W] into `out` [N, C, H_out, W_out], and its index within
  /// its H * W plane into i64 `indices` of out's shape: the first largest, a
  /// NaN counting as larger than any number (as PyTorch's max_pool2d). Every
  /// window holds at least one pixel; floating dtypes only.
  virtual void max_pool2d(const Tensor& in, const ConvGeometry& geometry, const Tensor& out,
                          const Tensor& indices) = 0;

  // ---- batch normalization in training (cpu/batch_norm.cpp, cuda/batch_norm.cpp) ----
  /// For contiguous `in` [N, C, M] (the trailing dims merged): per channel c
  /// the mean and the biased variance over N and M into `mean` and `var`
  /// [C], and out [N, C, M] = (in - mean) / sqrt(var + eps) * weight + bias
  /// (weight and bias [C], each undefined: 1 and 0). Floating only.
  virtual void batch_norm(const Tensor& in, const Tensor& weight, const Tensor& bias, double eps,
                          const Tensor& out, const Tensor& mean, const Tensor& var) = 0;
  /// batch_norm's gradients for `grad_out` [N, C, M], with the mean and
  /// variance it computed: of the input (through the statistics too) into
  /// `grad_in`, of the weight and bias into `grad_weight` and `grad_bias`
  /// (each contiguous or undefined when not wanted; overwritten).
  virtual void batch_norm_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, double eps,
                                   const Tensor& grad_in, const Tensor& grad_weight,
                                   const Tensor& grad_bias) = 0;
};

/// The backend for `device`; throws DeviceError when it was not built or the
/// device is not usable. While this thread has an interceptor (below), that.
Backend& backend_for(Device device);

// ---- capture (autograd/src/capture.cpp) ----
/// The device's own backend, whatever interceptor is set.
Backend& device_backend(Device device);
/// What stands in for the backends on one thread: a captured step's
/// recorder, whose backends forward each call to device_backend and keep it
/// for replay.
class Interceptor {
 public:
  virtual ~Interceptor() = default;
  virtual Backend& backend_for(Device device) = 0;
};
/// Makes backend_for ask `interceptor` on this thread (nullptr: no interceptor).
void set_thread_interceptor(Interceptor* interceptor);
/// Work queued on one device's stream, recorded once to be queued again as
/// a whole (a CUDA graph): a replay's run of kernels between host actions.
class DeviceGraph {
 public:
  virtual ~DeviceGraph() = default;
  /// Queues the recorded work again, in order with the stream's other work.
  virtual void launch() = 0;
};
/// Records what `enqueue` queues on `device`'s stream into a graph, running
/// none of it. Null where the device has no graphs (the CPU: `enqueue` is
/// not called) and where the recording fails -- a kernel that waits for the
/// device or copies through the host, or one that allocates memory, which
/// the graph would go on writing after it is freed: the caller then runs
/// `enqueue` itself, none of its work having run.
std::unique_ptr<DeviceGraph> record_device_graph(Device device,
                                                 const std::function<void()>& enqueue);

/// How a BLAS reads a matrix in place: row-major, or column-major (a transposed
/// view), with the elements between rows (or columns).
struct MatrixLayout {
  bool column_major;
  std::int64_t leading;
};

/// The layout of rank-3 `t`'s matrices [batch, rows, cols]: row-major when
/// their strides allow, else column-major, else none (they must be packed).
/// The stride of an extent-1 dimension never matters.
std::optional<MatrixLayout> matrix_layout(const Tensor& t);

/// `tensor`'s strides seen through `shape`, broadcast NumPy-style: aligned at
/// the last dimension, stride 0 where `tensor` lacks a dimension or has extent
/// 1. Throws ShapeError naming `op` when the shapes do not broadcast.
Strides broadcast_strides(const char* op, const Tensor& tensor, const Shape& shape);

/// The threads the CPU kernels may use: the intra-op pool's (parallel.h) and,
/// when the CBLAS is OpenBLAS, OpenBLAS's. It starts at TETHER_NUM_THREADS,
/// else OMP_NUM_THREADS, else the physical cores the process may run on, and
/// is handed to OpenBLAS when the CPU backend is first used.
int cpu_threads();
void set_cpu_threads(int threads);

/// The library that runs a CPU floating-point matrix product (products of at
/// most 128 multiply-adds, and integer ones, always run a plain loop).
/// native: tether's own kernel, for f32 on CPUs with AVX-512 (f64 products,
/// and builds for other CPUs, run Eigen where native is set). automatic:
/// whichever of OpenBLAS, Eigen (compiled for the host) and native was
/// measured fastest on this machine for the product's size class, measured
/// once per process on the class's first product, with the BLAS thread count
/// in force. The build option TETHER_MATMUL=openblas|eigen|native fixes the route.
enum class GemmRoute : std::uint8_t { automatic, eigen, openblas, native };

/// Sets the route of every later CPU product (automatic: the measured choice);
/// returns the previous setting. For tests and benchmarks.
GemmRoute set_cpu_gemm_route(GemmRoute route);

/// The library an m x k by k x n product of `dtype` (f32 or f64, else a
/// DTypeError) runs on now: the route set, or the measured choice.
GemmRoute cpu_gemm_route(DType dtype, std::int64_t m, std::int64_t n, std::int64_t k);

}  // namespace tether::backend
