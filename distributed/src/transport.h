// What the collectives (collectives.cpp) and DistributedDataParallel (ddp.cpp)
// share: the MPI world and its errors, and NCCL for CUDA tensors (nccl.cpp,
// built when the build has CUDA and NCCL).
#pragma once

#include <mpi.h>

#include <functional>

#include "tether/distributed/distributed.h"

namespace tether::distributed::detail {

/// The world's communicator (a duplicate of MPI_COMM_WORLD whose errors come
/// back as codes). Throws DistributedError naming `op` before init().
MPI_Comm world(const char* op);
/// Throws DistributedError naming `op`, this rank and MPI's message unless
/// `code` is MPI_SUCCESS.
void check_mpi(int code, const char* op);
/// `what`, prefixed with "op: rank r of n: ", for errors that name the rank.
[[noreturn]] void fail_on_rank(const char* op, const std::string& what);

MPI_Datatype mpi_type(DType dtype);
/// sum or max (mean is a sum, divided afterwards).
MPI_Op mpi_op(ReduceOp op);

/// An in-place collective on a contiguous tensor, started and not yet waited
/// for: DistributedDataParallel's bucket reductions and buffer broadcasts,
/// which overlap backward. A CPU tensor's is one of MPI's non-blocking
/// collectives; a CUDA tensor's is queued on the device's stream, after the
/// kernels that computed it and before any that read it, so there is nothing
/// to wait for.
class PendingCollective {
 public:
  /// Starts the all-reduce of every rank's `flat` into every rank's `flat`.
  static PendingCollective all_reduce(const Tensor& flat, ReduceOp op, const char* name);
  /// Starts copying rank `root`'s `flat` into every rank's `flat`.
  static PendingCollective broadcast(const Tensor& flat, int root, const char* name);

  PendingCollective(PendingCollective&& other) noexcept;
  PendingCollective& operator=(PendingCollective&&) = delete;
  PendingCollective(const PendingCollective&) = delete;
  ~PendingCollective();
  /// Lets MPI progress the collective; returns whether it has finished.
  bool test();
  /// Blocks until the collective has finished.
  void wait();

 private:
  PendingCollective(const Tensor& flat, const char* name) : buffer_(flat), name_(name) {}
  /// Starts a collective on `flat`: a CUDA tensor's by `queue_on_device()`, a
  /// CPU tensor's by `start_mpi(&request)`, which returns MPI's error code.
  static PendingCollective start(const Tensor& flat, const char* name,
                                 const std::function<void()>& queue_on_device,
                                 const std::function<int(MPI_Request*)>& start_mpi);

  MPI_Request request_ = MPI_REQUEST_NULL;
  Tensor buffer_;
  const char* name_;
};

#ifdef TETHER_NCCL
/// The collectives on CUDA tensors, queued on the tensors' device stream.
/// `out` is contiguous; `in` may be `out` (in place).
namespace nccl {
void all_reduce(const Tensor& out, ReduceOp op, const char* name);
void broadcast(const Tensor& out, int root, const char* name);
void all_gather(const Tensor& in, const Tensor& out, const char* name);
void reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op, const char* name);
/// Destroys the communicator, if one was made.
void finalize();
}  // namespace nccl
#endif

}  // namespace tether::distributed::detail
