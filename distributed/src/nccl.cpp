// The collectives on CUDA tensors through NCCL, bootstrapped through MPI: rank
// 0 makes NCCL's unique id and MPI broadcasts it. Each is queued on the
// tensor's device stream (the one every tether kernel of that device runs
// on), so it follows the kernels that computed its input and precedes any
// that read its output without a synchronisation. One device per rank; tested
// on one GPU (a world of one), untested across several until a multi-GPU
// machine exists.
#include <nccl.h>

#include <string>

#include "cuda/cuda_backend.h"
#include "transport.h"

namespace tether::distributed::detail::nccl {
namespace {

struct Communicator {
  ncclComm_t comm = nullptr;
  Device device;
};

Communicator& the_communicator() {
  static Communicator communicator;
  return communicator;
}

void check(ncclResult_t result, const char* op) {
  if (result != ncclSuccess)
    fail_on_rank(op, std::string("NCCL error: ") + ncclGetErrorString(result));
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::i64:
      return ncclInt64;
    case DType::boolean:  // one byte, as torch sends it
      return ncclUint8;
  }
  return ncclFloat32;
}

/// sum or max (mean is a sum, divided afterwards, as over MPI).
ncclRedOp_t nccl_op(ReduceOp op) {
  return op == ReduceOp::max ? ncclMax : ncclSum;
}

/// The communicator, made on the first CUDA collective, on that tensor's device.
ncclComm_t communicator(Device device, const char* op) {
  Communicator& c = the_communicator();
  if (c.comm) {
    if (!(c.device == device))
      fail_on_rank(op, "NCCL's communicator is on " + c.device.str() + ", the tensor on " +
                           device.str() + " (one device per rank)");
    return c.comm;
  }
  ncclUniqueId id{};
  if (rank() == 0) check(ncclGetUniqueId(&id), op);
  check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, world(op)), op);
  backend::cuda::activate(device);
  check(ncclCommInitRank(&c.comm, world_size(), id, rank()), op);
  c.device = device;
  return c.comm;
}

cudaStream_t stream(const Tensor& t) {
  return backend::cuda::activate(t.device());
}

}  // namespace

void all_reduce(const Tensor& out, ReduceOp op, const char* name) {
  ncclComm_t comm = communicator(out.device(), name);
  check(ncclAllReduce(out.raw_data(), out.raw_data(), out.numel(), nccl_type(out.dtype()),
                      nccl_op(op), comm, stream(out)),
        name);
}

void broadcast(const Tensor& out, int root, const char* name) {
  ncclComm_t comm = communicator(out.device(), name);
  check(ncclBroadcast(out.raw_data(), out.raw_data(), out.numel(), nccl_type(out.dtype()), root,
                      comm, stream(out)),
        name);
}

void all_gather(const Tensor& in, const Tensor& out, const char* name) {
  ncclComm_t comm = communicator(in.device(), name);
  check(ncclAllGather(in.raw_data(), out.raw_data(), in.numel(), nccl_type(in.dtype()), comm,
                      stream(in)),
        name);
}

void reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op, const char* name) {
  ncclComm_t comm = communicator(in.device(), name);
  check(ncclReduceScatter(in.raw_data(), out.raw_data(), out.numel(), nccl_type(in.dtype()),
                          nccl_op(op), comm, stream(in)),
        name);
}

void finalize() {
  Communicator& c = the_communicator();
  if (c.comm) ncclCommDestroy(std::exchange(c.comm, nullptr));
}

}  // namespace tether::distributed::detail::nccl
