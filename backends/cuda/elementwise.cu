// Element-wise kernels: fill, copy (host <-> device too), unary, binary and
// where. Each is a small device functor run by the one strided kernel of
// strided.cuh; the op is a runtime switch inside the functor (uniform across a
// launch, so it costs no divergence), which keeps one instantiation per dtype
// instead of one per op and dtype. Arithmetic is compiled for f32, f64 and
// i64; fill, copy, where and the predicates for bool too (visit_dtype_or_bool).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../common/kernel_support.h"  // visit_dtype, saturate_cast, cpu_backend()
#include "../common/special_functions.h"
#include "strided.cuh"

namespace tether::backend::cuda {
namespace {

/// Set by a kernel that met an integer division by zero (1) or an integer
/// raised to a negative power (2); read back after i64 div and pow only.
__device__ int integer_error;

template <class T>
struct Fill {
  T* out;
  T value;
  __device__ void operator()(const std::int64_t (&at)[1]) const { out[at[0]] = value; }
};

template <class D, class S>
struct Convert {
  D* out;
  const S* in;
  __device__ void operator()(const std::int64_t (&at)[2]) const {
    out[at[0]] = saturate_cast<D>(in[at[1]]);  // NaN or 1e30 into i64 saturates, as on the CPU
  }
};

// The op switches below are compiled for the host too (see the explicit
// instantiations after them): nvcc checks no switch of device code, and the
// host compiler's -Werror=switch then fails the build for a missing op.

template <class T>
__host__ __device__ T apply(UnaryOp op, T x, T alpha, T beta) {
  constexpr bool integral = std::is_integral_v<T>;
  // The floating-only ops: unary() refuses integers for them, so they are
  // compiled for floating types alone.
  const auto floating = [x](const auto& f) -> T {
    if constexpr (integral)
      return x;
    else
      return f(x);
  };
  switch (op) {
    // Integers wrap around on overflow, as on the CPU (integer_arithmetic.h).
    case UnaryOp::neg:
      if constexpr (integral)
        return WrappingNeg()(x);
      else
        return -x;
    case UnaryOp::abs:
      if constexpr (integral)
        return WrappingAbs()(x);
      else
        return x < T(0) ? -x : x;
    case UnaryOp::sign:
      return static_cast<T>((x > T(0)) - (x < T(0)));
    case UnaryOp::relu:  // NaN passes, as on the CPU and in PyTorch
      return x <= T(0) ? T(0) : x;
    case UnaryOp::affine:
      if constexpr (integral)
        return WrappingAffine{alpha, beta}(x);
      else
        return x * alpha + beta;
    case UnaryOp::clamp:
      return nan_min(nan_max(x, alpha), beta);
    case UnaryOp::exp:
      return floating([](auto v) { return exp(v); });
    case UnaryOp::log:
      return floating([](auto v) { return log(v); });
    case UnaryOp::log1p:
      return floating([](auto v) { return log1p(v); });
    case UnaryOp::sqrt:
      return floating([](auto v) { return sqrt(v); });
    case UnaryOp::rsqrt:
      return floating([](auto v) { return T(1) / sqrt(v); });
    case UnaryOp::sin:
      return floating([](auto v) { return sin(v); });
    case UnaryOp::cos:
      return floating([](auto v) { return cos(v); });
    case UnaryOp::tanh:
      return floating([](auto v) { return tanh(v); });
    case UnaryOp::sigmoid:
      return floating([](auto v) { return T(1) / (T(1) + exp(-v)); });
    case UnaryOp::erf:
      return floating([](auto v) { return erf(v); });
    case UnaryOp::erfc:
      return floating([](auto v) { return erfc(v); });
    case UnaryOp::lgamma:
      return floating([](auto v) { return lgamma(v); });
    // As on the CPU, in double for f32 too (special_functions.h).
    case UnaryOp::digamma:
      return floating([](auto v) { return T(special::digamma(v)); });
    case UnaryOp::polygamma:
      return floating([alpha](auto v) { return T(special::polygamma(int(alpha), v)); });
    case UnaryOp::log_ndtr:
      return floating([](auto v) { return T(special::log_ndtr(v)); });
    case UnaryOp::log_ndtr_slope:
      return floating([](auto v) { return T(special::log_ndtr_slope(v)); });
    case UnaryOp::softplus:  // max(x, 0) + log1p(exp(-|x|)) never overflows
      return floating([](auto v) { return (v > T(0) ? v : T(0)) + log1p(exp(-fabs(v))); });
    case UnaryOp::reciprocal:
      return floating([](auto v) { return T(1) / v; });
    case UnaryOp::pow:  // as on the CPU: squares exact, square roots by sqrt
      return floating([alpha](auto v) {
        if (alpha == T(2)) return v * v;
        if (alpha == T(0.5)) return sqrt(v);
        if (alpha == T(-0.5)) return T(1) / sqrt(v);
        return pow(v, alpha);
      });
    case UnaryOp::leaky_relu:
      return floating([alpha](auto v) { return v > T(0) ? v : v * alpha; });
    case UnaryOp::expm1:
      return floating([](auto v) { return expm1(v); });
    case UnaryOp::atan:
      return floating([](auto v) { return atan(v); });
    case UnaryOp::erfinv:  // as on the CPU (special_functions.h)
      return floating([](auto v) { return T(special::erfinv(v)); });
  }
  return x;  // unreachable: the switch names every op
}
template __host__ __device__ double apply(UnaryOp, double, double, double);

/// Integer power (WrappingPow); a negative exponent sets integer_error.
__device__ std::int64_t integer_pow(std::int64_t base, std::int64_t exponent) {
  if (exponent < 0) {
    integer_error = 2;
    return 0;
  }
  return WrappingPow()(base, exponent);
}

/// Integer division (WrappingDiv); a zero divisor sets integer_error.
__device__ std::int64_t integer_divide(std::int64_t a, std::int64_t b) {
  if (b == 0) {
    integer_error = 1;
    return 0;
  }
  return WrappingDiv()(a, b);
}

template <class T>
__host__ __device__ T apply(BinaryOp op, T a, T b) {
  constexpr bool integral = std::is_integral_v<T>;
  switch (op) {
    // Integers wrap around on overflow, as on the CPU (integer_arithmetic.h).
    case BinaryOp::add:
      if constexpr (integral)
        return WrappingAdd()(a, b);
      else
        return a + b;
    case BinaryOp::sub:
      if constexpr (integral)
        return WrappingSub()(a, b);
      else
        return a - b;
    case BinaryOp::mul:
      if constexpr (integral)
        return WrappingMul()(a, b);
      else
        return a * b;
    case BinaryOp::div:
      if constexpr (integral)
        return integer_divide(a, b);
      else
        return a / b;
    case BinaryOp::pow:
      if constexpr (integral)
        return integer_pow(a, b);
      else
        return pow(a, b);
    case BinaryOp::maximum:
      return nan_max(a, b);
    case BinaryOp::minimum:
      return nan_min(a, b);
    case BinaryOp::relu_backward:
      return b <= T(0) ? T(0) : a;
    case BinaryOp::eq:  // the predicates: binary() runs them by test() below
    case BinaryOp::ne:
    case BinaryOp::lt:
    case BinaryOp::le:
    case BinaryOp::gt:
    case BinaryOp::ge:
    case BinaryOp::logical_and:
    case BinaryOp::logical_or:
    case BinaryOp::logical_xor:
      break;
  }
  return T(0);  // unreachable for the arithmetic ops: the switch names every op
}
template __host__ __device__ double apply(BinaryOp, double, double);

/// The predicates (is_predicate), comparing a and b of T (bool included).
template <class T>
__host__ __device__ bool test(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::eq:
      return a == b;
    case BinaryOp::ne:
      return a != b;
    case BinaryOp::lt:
      return a < b;
    case BinaryOp::le:
      return a <= b;
    case BinaryOp::gt:
      return a > b;
    case BinaryOp::ge:
      return a >= b;
    case BinaryOp::logical_and:
      return a != T(0) && b != T(0);
    case BinaryOp::logical_or:
      return a != T(0) || b != T(0);
    case BinaryOp::logical_xor:
      return (a != T(0)) != (b != T(0));
    case BinaryOp::add:  // arithmetic: binary() runs it by apply() above
    case BinaryOp::sub:
    case BinaryOp::mul:
    case BinaryOp::div:
    case BinaryOp::pow:
    case BinaryOp::maximum:
    case BinaryOp::minimum:
    case BinaryOp::relu_backward:
      break;
  }
  return false;  // unreachable for the predicates: the switch names every op
}
template __host__ __device__ bool test(BinaryOp, double, double);

template <class T>
struct Unary {
  UnaryOp op;
  T* out;
  const T* in;
  T alpha, beta;
  __device__ void operator()(const std::int64_t (&at)[2]) const {
    out[at[0]] = apply(op, in[at[1]], alpha, beta);
  }
};

template <class T>
struct Binary {
  BinaryOp op;
  T* out;
  const T *a, *b;
  __device__ void operator()(const std::int64_t (&at)[3]) const {
    out[at[0]] = apply(op, a[at[1]], b[at[2]]);
  }
};

template <class T>
struct Predicate {
  BinaryOp op;
  bool* out;
  const T *a, *b;
  __device__ void operator()(const std::int64_t (&at)[3]) const {
    out[at[0]] = test(op, a[at[1]], b[at[2]]);
  }
};

template <class T>
struct Where {
  T* out;
  const bool* cond;
  const T *a, *b;
  __device__ void operator()(const std::int64_t (&at)[4]) const {
    out[at[0]] = cond[at[1]] ? a[at[2]] : b[at[3]];
  }
};

/// dst = src (dtype conversion, src broadcast to dst's shape), both on one device.
void copy_on_device(const Tensor& src, const Tensor& dst) {
  const StridedLayout<2> layout(dst.shape(),
                                {dst.strides(), broadcast_strides("copy", src, dst.shape())});
  visit_dtype_or_bool(src.dtype(), [&](auto source_type) {
    using S = typename decltype(source_type)::type;
    visit_dtype_or_bool(dst.dtype(), [&](auto dest_type) {
      using D = typename decltype(dest_type)::type;
      launch(dst.device(), layout, Convert<D, S>{dst.data_ptr<D>(), src.data_ptr<S>()});
    });
  });
}

/// A contiguous tensor of `shape` and `dtype` on `device` holding `src`
/// (broadcast to `shape`); `src` itself when it already is one.
Tensor contiguous_on(const Tensor& src, const Shape& shape, DType dtype, Device device) {
  if (src.device() == device && src.shape() == shape && src.dtype() == dtype && src.is_contiguous())
    return src;
  Tensor out = Tensor::empty(shape, dtype, device);
  if (device.is_cpu())
    cpu_backend().copy(src, out);
  else
    copy_on_device(src, out);
  return out;
}

std::size_t nbytes(const Tensor& t) {
  return static_cast<std::size_t>(t.numel()) * element_size(t.dtype());
}

/// Host <-> device or device <-> device: the bytes move between contiguous
/// buffers of one dtype (src's), strides and conversion are done on one side.
void copy_between_devices(const Tensor& src, const Tensor& dst) {
  // Where the conversion and the strided writes happen: the destination.
  const Tensor source = contiguous_on(src, dst.shape(), src.dtype(), src.device());
  const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype();
  const Tensor target = direct ? dst : Tensor::empty(dst.shape(), src.dtype(), dst.device());
  if (src.device().is_cuda() && dst.device().is_cuda()) {
    synchronize(dst.device());  // `target` may be a block that queued kernels there still use
    check(cudaMemcpyPeerAsync(target.raw_data(), dst.device().index, source.raw_data(),
                              src.device().index, nbytes(source), activate(src.device())),
          "copy: cudaMemcpyPeer");
    synchronize(src.device());
  } else {
    const Device gpu = src.device().is_cuda() ? src.device() : dst.device();
    const cudaMemcpyKind kind =
        src.device().is_cuda() ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice;
    // From pageable host memory the call returns once the bytes are staged, so
    // the host buffer may be freed right after; to the host, wait for them.
    check(
        cudaMemcpyAsync(target.raw_data(), source.raw_data(), nbytes(source), kind, activate(gpu)),
        "copy: cudaMemcpy");
    if (kind == cudaMemcpyDeviceToHost) synchronize(gpu);
  }
  if (!direct) backend_for(dst.device()).copy(target, dst);
}

}  // namespace

void CudaBackend::fill(const Tensor& out, double value) {
  visit_dtype_or_bool(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), StridedLayout<1>(out.shape(), {out.strides()}),
           Fill<T>{out.data_ptr<T>(), saturate_cast<T>(value)});
  });
}

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  if (dst.numel() == 0) return;
  if (src.device() == dst.device())
    copy_on_device(src, dst);
  else
    copy_between_devices(src, dst);
}

void CudaBackend::unary(UnaryOp op, const Tensor& in, const Tensor& out, UnaryParams params) {
  const StridedLayout<2> layout(out.shape(), {out.strides(), in.strides()});
  check_unary_dtype(op, out.dtype());
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), layout,
           Unary<T>{op, out.data_ptr<T>(), in.data_ptr<T>(), saturate_cast<T>(params.alpha),
                    saturate_cast<T>(params.beta)});
  });
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const StridedLayout<3> layout(out.shape(), {out.strides(), a.strides(), b.strides()});
  if (is_predicate(op)) {
    visit_dtype_or_bool(a.dtype(), [&](auto type) {
      using T = typename decltype(type)::type;
      launch(out.device(), layout,
             Predicate<T>{op, out.data_ptr<bool>(), a.data_ptr<T>(), b.data_ptr<T>()});
    });
    return;
  }
  visit_dtype(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), layout,
           Binary<T>{op, out.data_ptr<T>(), a.data_ptr<T>(), b.data_ptr<T>()});
  });
  // Integer division by zero and negative integer powers are errors, as on the
  // CPU; checking costs a synchronisation, paid by i64 div and pow alone.
  if (out.dtype() != DType::i64 || (op != BinaryOp::div && op != BinaryOp::pow)) return;
  int error = 0;
  const cudaStream_t stream = activate(out.device());
  check(cudaMemcpyFromSymbolAsync(&error, integer_error, sizeof error, 0, cudaMemcpyDeviceToHost,
                                  stream),
        "binary: reading the error flag");
  synchronize(out.device());
  if (error == 0) return;
  const int zero = 0;
  check(
      cudaMemcpyToSymbolAsync(integer_error, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, stream),
      "binary: resetting the error flag");
  synchronize(out.device());
  if (error == 1) fail<ValueError>("div: integer division by zero");
  fail<ValueError>("pow: integers to negative integer powers are not allowed");
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const StridedLayout<4> layout(out.shape(),
                                {out.strides(), cond.strides(), a.strides(), b.strides()});
  visit_dtype_or_bool(out.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), layout,
           Where<T>{out.data_ptr<T>(), cond.data_ptr<bool>(), a.data_ptr<T>(), b.data_ptr<T>()});
  });
}

}  // namespace tether::backend::cuda
