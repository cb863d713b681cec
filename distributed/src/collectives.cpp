// The collectives on tensors: CPU tensors through MPI's blocking collectives
// (its tuned algorithms, faster than the non-blocking ones for a lone call),
// CUDA tensors through NCCL.
#include <string>
#include <utility>
#include <vector>

#include "tether/grad_mode.h"
#include "tether/ops.h"
#include "transport.h"

namespace tether::distributed {
namespace {

using detail::check_mpi;
using detail::mpi_op;
using detail::mpi_type;
using detail::world;

/// The checks every collective makes of its tensor, returning the communicator.
MPI_Comm checked(const char* op, const Tensor& tensor) {
  MPI_Comm comm = world(op);
  check_defined(op, tensor);
  if (tensor.device().is_cuda()) {
#ifndef TETHER_NCCL
    detail::fail_on_rank(op, "a CUDA tensor needs NCCL, which this build of tether lacks");
#endif
  }
  return comm;
}

void check_reduce_op(const char* op, const Tensor& tensor, ReduceOp reduce) {
  // MPI defines no sum or max of its C bool type; refused here, not by MPI mid-collective.
  if (tensor.dtype() == DType::boolean)
    fail<DTypeError>(op, ": expected a numeric dtype to reduce, got bool (reduce a mask as i64)");
  if (reduce == ReduceOp::mean && !tensor.is_floating_point())
    fail<DTypeError>(op, ": mean needs a floating dtype, got ", tensor.dtype());
}

/// Runs `collective` on a contiguous tensor holding `tensor`'s data, then
/// makes that the data of `tensor` (written in place, its version bumped).
template <class Collective>
void in_place(const char* op, const Tensor& tensor, Collective collective) {
  if (tensor.requires_grad() && is_grad_enabled())
    fail<AutogradError>(op,
                        ": cannot write into a tensor that requires grad while grad mode is on ",
                        "(use a NoGradGuard, or the tensor's detach())");
  const Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
  collective(buffer);
  Tensor target = tensor;  // a handle: writing through it writes the caller's data
  if (buffer.is_same(target))
    target.impl()->storage->bump_version();
  else
    target.copy_(buffer);
}

/// Divides a sum by the number of ranks, for ReduceOp::mean.
void finish_mean(Tensor sum, ReduceOp op) {
  if (op != ReduceOp::mean) return;
  NoGradGuard no_grad;
  sum.div_(world_size());
}

}  // namespace

void all_reduce(const Tensor& tensor, ReduceOp op) {
  MPI_Comm comm = checked("all_reduce", tensor);
  check_reduce_op("all_reduce", tensor, op);
  in_place("all_reduce", tensor, [&](const Tensor& buffer) {
#ifdef TETHER_NCCL
    if (buffer.device().is_cuda())
      detail::nccl::all_reduce(buffer, op, "all_reduce");
    else
#endif
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, buffer.raw_data(), static_cast<int>(buffer.numel()),
                              mpi_type(buffer.dtype()), mpi_op(op), comm),
                "all_reduce");
    finish_mean(buffer, op);
  });
}

void broadcast(const Tensor& tensor, int root) {
  MPI_Comm comm = checked("broadcast", tensor);
  if (root < 0 || root >= world_size())
    fail<ValueError>("broadcast: root ", root, " is not a rank of a world of ", world_size());
  in_place("broadcast", tensor, [&](const Tensor& buffer) {
#ifdef TETHER_NCCL
    if (buffer.device().is_cuda())
      detail::nccl::broadcast(buffer, root, "broadcast");
    else
#endif
      check_mpi(MPI_Bcast(buffer.raw_data(), static_cast<int>(buffer.numel()),
                          mpi_type(buffer.dtype()), root, comm),
                "broadcast");
  });
}

Tensor all_gather(const Tensor& tensor) {
  MPI_Comm comm = checked("all_gather", tensor);
  const Tensor in = tensor.contiguous();
  Shape shape = in.shape();
  if (shape.size() == 0)
    shape = Shape{world_size()};
  else
    shape[0] *= world_size();
  Tensor out = Tensor::empty(shape, in.dtype(), in.device(), "all_gather");
#ifdef TETHER_NCCL
  if (in.device().is_cuda()) {
    detail::nccl::all_gather(in, out, "all_gather");
    return out;
  }
#endif
  const int count = static_cast<int>(in.numel());
  check_mpi(MPI_Allgather(in.raw_data(), count, mpi_type(in.dtype()), out.raw_data(), count,
                          mpi_type(in.dtype()), comm),
            "all_gather");
  return out;
}

Tensor reduce_scatter(const Tensor& tensor, ReduceOp op) {
  MPI_Comm comm = checked("reduce_scatter", tensor);
  check_reduce_op("reduce_scatter", tensor, op);
  const int ranks = world_size();
  if (tensor.dim() == 0 || tensor.size(0) % ranks != 0)
    fail<ShapeError>("reduce_scatter: expected a tensor whose dimension 0 the ", ranks,
                     " ranks divide, got shape ", tensor.shape());
  const Tensor in = tensor.contiguous();
  Shape shape = in.shape();
  shape[0] /= ranks;
  Tensor out = Tensor::empty(shape, in.dtype(), in.device(), "reduce_scatter");
#ifdef TETHER_NCCL
  if (in.device().is_cuda())
    detail::nccl::reduce_scatter(in, out, op, "reduce_scatter");
  else
#endif
    check_mpi(MPI_Reduce_scatter_block(in.raw_data(), out.raw_data(), static_cast<int>(out.numel()),
                                       mpi_type(in.dtype()), mpi_op(op), comm),
              "reduce_scatter");
  finish_mean(out, op);
  return out;
}

void barrier() {
  check_mpi(MPI_Barrier(world("barrier")), "barrier");
}

namespace detail {
namespace {

/// The buffers of collectives dropped before they finished (see ~PendingCollective).
std::vector<Tensor>& leaked_buffers() {
  static std::vector<Tensor> buffers;
  return buffers;
}

}  // namespace

PendingCollective PendingCollective::start(const Tensor& flat, const char* name,
                                           const std::function<void()>& queue_on_device,
                                           const std::function<int(MPI_Request*)>& start_mpi) {
  PendingCollective pending(flat, name);
  if (flat.device().is_cuda()) {
#ifndef TETHER_NCCL
    fail_on_rank(name, "a CUDA tensor needs NCCL, which this build of tether lacks");
#endif
    queue_on_device();
  } else {
    check_mpi(start_mpi(&pending.request_), name);
  }
  return pending;
}

PendingCollective PendingCollective::all_reduce(const Tensor& flat, ReduceOp op, const char* name) {
  return start(
      flat, name,
      [&] {
#ifdef TETHER_NCCL
        nccl::all_reduce(flat, op, name);
#endif
      },
      [&](MPI_Request* request) {
        return MPI_Iallreduce(MPI_IN_PLACE, flat.raw_data(), static_cast<int>(flat.numel()),
                              mpi_type(flat.dtype()), mpi_op(op), world(name), request);
      });
}

PendingCollective PendingCollective::broadcast(const Tensor& flat, int root, const char* name) {
  return start(
      flat, name,
      [&] {
#ifdef TETHER_NCCL
        nccl::broadcast(flat, root, name);
#endif
      },
      [&](MPI_Request* request) {
        return MPI_Ibcast(flat.raw_data(), static_cast<int>(flat.numel()), mpi_type(flat.dtype()),
                          root, world(name), request);
      });
}

PendingCollective::PendingCollective(PendingCollective&& other) noexcept
    : request_(std::exchange(other.request_, MPI_REQUEST_NULL)),
      buffer_(std::move(other.buffer_)),
      name_(other.name_) {}

PendingCollective::~PendingCollective() {
  // Dropped unfinished only on an error path, where waiting could wait for a
  // rank that never joins, and MPI may not cancel a collective: the buffer
  // stays allocated, so whatever MPI still writes lands in memory of its own.
  if (request_ != MPI_REQUEST_NULL) leaked_buffers().push_back(std::move(buffer_));
}

bool PendingCollective::test() {
  int done = 1;
  if (request_ != MPI_REQUEST_NULL) check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), name_);
  return done != 0;
}

void PendingCollective::wait() {
  if (request_ != MPI_REQUEST_NULL) check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), name_);
}

}  // namespace detail

}  // namespace tether::distributed
