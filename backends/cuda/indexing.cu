// Index kernels. All four are one walk: for every position p of a shape, an
// index element i[p] picks the slot of the indexed tensor (p with coordinate
// `dim` replaced by i[p]) that pairs with the other tensor's element at p.
// gather and index_select read the slot, scatter_add and index_add add to it
// atomically (several positions may pick one slot). index_select and
// index_add see their rank-1 index as broadcast along every other dimension.
// Indices are checked before anything is written, so a bad index leaves the
// output untouched.
#include "../common/kernel_support.h"  // visit_dtype
#include "strided.cuh"

namespace tether::backend::cuda {
namespace {

/// {found, value}: set by check_index to an out-of-range index it met.
__device__ long long bad_index[2];

struct CheckIndex {
  const std::int64_t* index;
  std::int64_t size;
  __device__ void operator()(const std::int64_t (&at)[1]) const {
    const std::int64_t value = index[at[0]];
    if (value < 0 || value >= size) {
      bad_index[1] = value;  // any offending value will do for the message
      bad_index[0] = 1;
    }
  }
};

/// Throws IndexError naming `op` unless every element of `index` lies in
/// [0, size), size being the extent of dimension `dim` it indexes.
void check_indices(const char* op, const Tensor& index, int dim, std::int64_t size) {
  const Device device = index.device();
  const cudaStream_t stream = activate(device);
  long long found[2] = {0, 0};
  check(cudaMemcpyToSymbolAsync(bad_index, found, sizeof found, 0, cudaMemcpyHostToDevice, stream),
        op);
  launch(device, StridedLayout<1>(index.shape(), {index.strides()}),
         CheckIndex{index.data_ptr<std::int64_t>(), size});
  check(
      cudaMemcpyFromSymbolAsync(found, bad_index, sizeof found, 0, cudaMemcpyDeviceToHost, stream),
      op);
  synchronize(device);
  if (found[0])
    fail<IndexError>(op, ": index ", found[1], " is out of range for dimension ", dim, " of size ",
                     size);
}

template <class T>
__device__ void atomic_add(T* target, T value) {
  if constexpr (std::is_same_v<T, std::int64_t>)  // two's complement: unsigned addition
    atomicAdd(reinterpret_cast<unsigned long long*>(target),
              static_cast<unsigned long long>(value));
  else
    atomicAdd(target, value);
}

template <class T, bool Accumulate>
struct Indexed {
  const std::int64_t* index;
  T* indexed;
  std::int64_t step;  ///< indexed's stride along dim
  T* other;
  __device__ void operator()(const std::int64_t (&at)[3]) const {
    T* const slot = indexed + at[1] + index[at[0]] * step;
    if constexpr (Accumulate)
      atomic_add(slot, other[at[2]]);
    else
      other[at[2]] = *slot;
  }
};

/// The indexed walk over `shape`: `index_strides` for the index, `indexed`
/// with its stride along `dim` moved into the index, `other` as it is.
template <bool Accumulate>
void run_indexed(const Shape& shape, const Tensor& index, const Strides& index_strides, int dim,
                 const Tensor& indexed, const Tensor& other) {
  Strides indexed_strides = indexed.strides();
  indexed_strides[dim] = 0;
  const StridedLayout<3> layout(shape, {index_strides, indexed_strides, other.strides()});
  const auto run = [&](auto type) {
    using T = typename decltype(type)::type;
    launch(indexed.device(), layout,
           Indexed<T, Accumulate>{index.data_ptr<std::int64_t>(), indexed.data_ptr<T>(),
                                  indexed.strides()[dim], other.data_ptr<T>()});
  };
  // Masks are moved (index_select, gather), never accumulated.
  if constexpr (Accumulate)
    visit_dtype(indexed.dtype(), run);
  else
    visit_dtype_or_bool(indexed.dtype(), run);
}

/// A rank-1 index's strides seen through a tensor of `rank` dimensions whose
/// dimension `dim` it runs along.
Strides along_dim(const Tensor& index, int rank, int dim) {
  Strides strides = Shape::filled(rank, 0);
  strides[dim] = index.dim() == 0 ? 0 : index.strides()[0];
  return strides;
}

}  // namespace

void CudaBackend::index_select(const Tensor& in, int dim, const Tensor& index, const Tensor& out) {
  check_indices("index_select", index, dim, in.shape()[dim]);
  run_indexed<false>(out.shape(), index, along_dim(index, out.dim(), dim), dim, in, out);
}

void CudaBackend::index_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) {
  check_indices("index_add", index, dim, out.shape()[dim]);
  run_indexed<true>(src.shape(), index, along_dim(index, src.dim(), dim), dim, out, src);
}

void CudaBackend::gather(const Tensor& in, int dim, const Tensor& index, const Tensor& out) {
  check_indices("gather", index, dim, in.shape()[dim]);
  run_indexed<false>(index.shape(), index, index.strides(), dim, in, out);
}

void CudaBackend::scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) {
  check_indices("scatter_add", index, dim, out.shape()[dim]);
  run_indexed<true>(index.shape(), index, index.strides(), dim, out, src);
}

}  // namespace tether::backend::cuda
