// tether::distributed: several processes training one model, as
// torch.distributed. Processes are started by MPI (`mpirun -np 2 prog`,
// `srun prog`); each calls init() once, then the collectives below, which every
// process of the world must call in the same order with tensors of the same
// shape and dtype. CPU tensors travel through MPI, CUDA tensors through NCCL
// (when the build has it; NCCL is bootstrapped through MPI).
//
//   tether::distributed::init();
//   Tensor t = tether::full({4}, tether::distributed::rank());
//   tether::distributed::all_reduce(t);           // every rank: 0 + 1 + ...
//   tether::distributed::finalize();
//
// An error of MPI or NCCL is a DistributedError naming the collective and the
// rank. An exception that no one catches, on any rank, is printed and aborts
// every rank (MPI_Abort) instead of leaving the others waiting in a
// collective; a rank that catches an error and carries on alone leaves them
// waiting, as in torch.
#pragma once

#include <cstdint>

#include "tether/error.h"
#include "tether/tensor.h"

namespace tether::distributed {

/// A collective failed: MPI or NCCL reported an error, or the processes disagree.
class DistributedError : public Error {
 public:
  using Error::Error;
};

/// Starts MPI (MPI_Init_thread) unless it runs already, and makes an uncaught
/// exception abort every rank. Call once per process before anything else here.
/// A rank waiting in a collective yields its core to other processes (Open
/// MPI's mpi_yield_when_idle, unless the environment sets it), so that ranks
/// on a busy machine keep step; MPI started before init() keeps its settings.
void init();
/// Ends MPI if init() started it; later calls do nothing.
void finalize();
/// Whether init() has run and finalize() has not.
bool is_initialized();
/// This process's index, 0 .. world_size() - 1. Throws DistributedError before init().
int rank();
/// The number of processes.
int world_size();

/// How all_reduce and reduce_scatter combine the ranks' tensors.
enum class ReduceOp { sum, mean, max };

/// Replaces `tensor` on every rank by the element-wise sum, mean or maximum of
/// every rank's `tensor`, in place (its version is bumped), as torch's
/// all_reduce. mean needs a floating dtype (DTypeError otherwise). Every rank
/// ends with the same bits. Throws AutogradError for a tensor that requires
/// grad while grad mode is on.
void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::sum);
/// Copies rank `root`'s `tensor` into every rank's `tensor`, in place.
void broadcast(const Tensor& tensor, int root = 0);
/// Every rank's `tensor` concatenated along dimension 0 in rank order, on every
/// rank (torch's all_gather_into_tensor): shape [world_size * n, ...] for an
/// input [n, ...]; a 0-d input gives [world_size].
Tensor all_gather(const Tensor& tensor);
/// The ranks' `tensor`s combined by `op`, then split along dimension 0 into
/// world_size() equal parts, rank r keeping part r (torch's
/// reduce_scatter_tensor). Throws ShapeError unless world_size() divides size(0).
Tensor reduce_scatter(const Tensor& tensor, ReduceOp op = ReduceOp::sum);
/// Returns once every rank has called it.
void barrier();

}  // namespace tether::distributed
