// Reductions (sum, max, min over any set of dimensions), argmax and argmin.
//
// One kernel serves every layout. Its input is split into the kept
// dimensions (one output element each) and the reduced ones; a block holds
// `rows` outputs of `lanes` threads each (lanes * rows = 256). A row's lanes
// stride over the output's reduced elements, then fold their partial results
// in shared memory. Few reduced elements get few lanes, so a reduction over a
// short last dimension still fills the block with outputs. When there are few
// outputs but many elements (a full sum), each output is split into chunks
// reduced by separate blocks into a scratch tensor, which a second launch of
// the same kernel folds: a full reduction then uses the whole GPU.
#include <bit>
#include <cmath>
#include <type_traits>

#include "../common/kernel_support.h"  // visit_dtype(_or_bool), reduce_identity, the Wrapping functors
#include "strided.cuh"

namespace tether::backend::cuda {
namespace {

constexpr int kThreads = 256;
/// A reduction is split when it has fewer outputs than this ...
constexpr std::int64_t kSplitBelowOutputs = 256;
/// ... into chunks of about this many elements (at most kMaxSplits of them).
constexpr std::int64_t kChunk = 8192;
constexpr std::int64_t kMaxSplits = 1024;

/// Folds two partial results. For bool, max and min are "or" and "and"
/// (any and all); sum, counted in i64 by the ops, is "or" too.
template <class T>
struct Combine {
  ReduceOp op;
  __host__ __device__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) return op == ReduceOp::min ? a && b : a || b;
    switch (op) {
      case ReduceOp::sum:
        if constexpr (std::is_integral_v<T>)
          return WrappingAdd()(a, b);  // wraps around on overflow, as on the CPU
        else
          return a + b;
      case ReduceOp::max:
        return nan_max(a, b);
      case ReduceOp::min:
        return nan_min(a, b);
    }
    return a;  // unreachable: the switch names every op
  }
};
// Compiled for the host too, where -Werror=switch checks the switch (nvcc
// checks none in device code).
template struct Combine<double>;

/// out[kept offset + blockIdx.y] = the fold of chunk blockIdx.y (of `chunk`
/// elements) of the reduced elements of each output; see the file comment.
template <class T>
__global__ void reduce_kernel(StridedLayout<2> kept, StridedLayout<1> reduced, const T* in, T* out,
                              T identity, Combine<T> combine, std::int64_t chunk) {
  extern __shared__ unsigned char shared_bytes[];
  T* const partial = reinterpret_cast<T*>(shared_bytes);
  const int lane = threadIdx.x, lanes = blockDim.x;
  const std::int64_t o = std::int64_t{blockIdx.x} * blockDim.y + threadIdx.y;
  std::int64_t at[2] = {0, 0};
  if (o < kept.numel) kept.offsets(o, at);
  T acc = identity;
  if (o < kept.numel) {
    const std::int64_t begin = std::int64_t{blockIdx.y} * chunk;
    const std::int64_t end = begin + chunk < reduced.numel ? begin + chunk : reduced.numel;
    for (std::int64_t j = begin + lane; j < end; j += lanes) {
      std::int64_t element[1];
      reduced.offsets(j, element);
      acc = combine(acc, in[at[1] + element[0]]);
    }
  }
  T* const row = partial + threadIdx.y * lanes;
  row[lane] = acc;
  __syncthreads();
  for (int half = lanes / 2; half > 0; half /= 2) {
    if (lane < half) row[lane] = combine(row[lane], row[lane + half]);
    __syncthreads();
  }
  if (lane == 0 && o < kept.numel) out[at[0] + blockIdx.y] = row[0];
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& in, std::uint32_t reduce_mask, const Tensor& out) {
  const T identity = reduce_identity<T>(op);
  Shape reduced_shape = in.shape();
  for (int d = 0; d < in.dim(); ++d)
    if (!(reduce_mask >> d & 1)) reduced_shape[d] = 1;
  const StridedLayout<1> reduced(reduced_shape, {in.strides()});
  const std::int64_t outputs = out.numel();
  const std::int64_t splits = outputs < kSplitBelowOutputs && out.is_contiguous()
                                  ? std::clamp<std::int64_t>(reduced.numel / kChunk, 1, kMaxSplits)
                                  : 1;
  const std::int64_t chunk = (reduced.numel + splits - 1) / splits;
  // Partial results go to a [outputs, splits] scratch tensor when split.
  const Tensor target =
      splits == 1 ? out : Tensor::empty({outputs, splits}, out.dtype(), out.device());
  Strides target_strides = out.strides();
  for (int d = 0; d < out.dim(); ++d) target_strides[d] *= splits;
  const StridedLayout<2> kept(out.shape(), {target_strides, in.strides()});

  const int lanes = static_cast<int>(
      std::bit_ceil(static_cast<std::uint64_t>(std::clamp<std::int64_t>(chunk, 1, kThreads))));
  const dim3 block(lanes, kThreads / lanes);
  const dim3 grid(static_cast<unsigned>((outputs + block.y - 1) / block.y),
                  static_cast<unsigned>(splits));
  reduce_kernel<<<grid, block, kThreads * sizeof(T), activate(out.device())>>>(
      kept, reduced, in.data_ptr<T>(), target.data_ptr<T>(), identity, Combine<T>{op}, chunk);
  check(cudaGetLastError(), "reduce: kernel launch");
  if (splits > 1)
    reduce_typed<T>(op, target, 0b10,
                    Tensor::view_of(out, {outputs, 1}, {1, 1}, out.storage_offset()));
}

/// out[i] = index of the first largest (or smallest) of `in`'s elements along
/// the reduced dimension; NaN counts as more extreme than any number, as on
/// the CPU.
template <class T, bool Largest>
struct FirstExtreme {
  std::int64_t* out;
  const T* in;
  std::int64_t extent, step;
  __device__ void operator()(const std::int64_t (&at)[2]) const {
    const T* const data = in + at[1];
    std::int64_t best = 0;
    T best_value = data[0];
    for (std::int64_t i = 1; i < extent && best_value == best_value; ++i) {
      const T x = data[i * step];
      if ((Largest ? x > best_value : x < best_value) || x != x) {
        best = i;
        best_value = x;
      }
    }
    out[at[0]] = best;
  }
};

/// argmax (Largest) or argmin of `in` along `dim` into `out`.
template <bool Largest>
void arg_extreme(const char* op, const Tensor& in, int dim, const Tensor& out) {
  if (out.numel() == 0) return;
  check_argmax(op, in, dim);
  const std::int64_t extent = in.shape()[dim], step = in.strides()[dim];
  visit_dtype(in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    launch(out.device(), StridedLayout<2>(out.shape(), {out.strides(), in.strides()}),
           FirstExtreme<T, Largest>{out.data_ptr<std::int64_t>(), in.data_ptr<T>(), extent, step});
  });
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, const Tensor& in, std::uint32_t reduce_mask,
                         const Tensor& out) {
  check_reduce(op, in, out);
  if (out.numel() == 0) return;
  visit_dtype_or_bool(in.dtype(), [&](auto type) {
    reduce_typed<typename decltype(type)::type>(op, in, reduce_mask, out);
  });
}

void CudaBackend::argmax(const Tensor& in, int dim, const Tensor& out) {
  arg_extreme<true>("argmax", in, dim, out);
}

void CudaBackend::argmin(const Tensor& in, int dim, const Tensor& out) {
  arg_extreme<false>("argmin", in, dim, out);
}

}  // namespace tether::backend::cuda
