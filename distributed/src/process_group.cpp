// The MPI world: init, finalize, rank, world size, and MPI's errors as
// DistributedErrors.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "transport.h"

namespace tether::distributed {
namespace detail {
namespace {

struct World {
  MPI_Comm comm = MPI_COMM_NULL;
  bool started_mpi = false;  // finalize() ends MPI only if init() started it
  int rank = 0;
  int size = 1;
};

World& the_world() {
  static World world;
  return world;
}

// std::terminate's handler from init() on: an uncaught exception on one rank
// would otherwise leave the other ranks waiting in their next collective.
[[noreturn]] void abort_every_rank() {
  std::string what = "unknown exception";
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  }
  std::fprintf(stderr,
               "tether::distributed: rank %d of %d: uncaught exception: %s; aborting every rank\n",
               the_world().rank, the_world().size, what.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

}  // namespace

MPI_Comm world(const char* op) {
  if (the_world().comm == MPI_COMM_NULL)
    fail<DistributedError>(op, ": tether::distributed::init() has not been called");
  return the_world().comm;
}

[[noreturn]] void fail_on_rank(const char* op, const std::string& what) {
  fail<DistributedError>(op, ": rank ", the_world().rank, " of ", the_world().size, ": ", what);
}

void check_mpi(int code, const char* op) {
  if (code == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, message, &length);
  fail_on_rank(op, "MPI error: " + std::string(message, length));
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i64:
      return MPI_INT64_T;
    case DType::boolean:  // moves as is (broadcast, all_gather); reductions refuse it
      return MPI_C_BOOL;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(ReduceOp op) {
  return op == ReduceOp::max ? MPI_MAX : MPI_SUM;
}

}  // namespace detail

void init() {
  detail::World& world = detail::the_world();
  if (world.comm != MPI_COMM_NULL) return;
  int running = 0;
  MPI_Initialized(&running);
  if (!running) {
    // A rank waiting in a collective polls; Open MPI's default polls without
    // ever giving up the core (unless mpirun sees more ranks than cores). On a
    // machine shared with other work the waiting rank then burns its share of
    // the CPU, is descheduled just when its peer arrives, and every collective
    // costs a scheduler time slice: bench/ddp_step ran 0.8x on 2 ranks beside
    // a loaded machine's builds, 1.65x with yielding. A yield costs about a
    // microsecond per poll when nothing else waits for the core. The
    // environment (mpirun --mca mpi_yield_when_idle 0) still decides.
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", /*overwrite=*/0);
    int provided = 0;
    // Funneled: the thread that calls init() makes every MPI call.
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      fail<DistributedError>("init: MPI_Init_thread failed");
    world.started_mpi = true;
  }
  // A communicator of our own, so that the error handler and the collectives'
  // ordering do not touch the program's own use of MPI_COMM_WORLD.
  MPI_Comm_dup(MPI_COMM_WORLD, &world.comm);
  MPI_Comm_set_errhandler(world.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(world.comm, &world.rank);
  MPI_Comm_size(world.comm, &world.size);
  std::set_terminate(detail::abort_every_rank);
}

void finalize() {
  detail::World& world = detail::the_world();
  if (world.comm == MPI_COMM_NULL) return;
#ifdef TETHER_NCCL
  detail::nccl::finalize();
#endif
  MPI_Comm_free(&world.comm);
  world.comm = MPI_COMM_NULL;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (world.started_mpi && !finalized) MPI_Finalize();
  world.started_mpi = false;
}

bool is_initialized() {
  return detail::the_world().comm != MPI_COMM_NULL;
}

int rank() {
  detail::world("rank");
  return detail::the_world().rank;
}

int world_size() {
  detail::world("world_size");
  return detail::the_world().size;
}

}  // namespace tether::distributed
