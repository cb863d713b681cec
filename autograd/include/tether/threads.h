// How many threads tether's CPU kernels may use, as torch.set_num_threads.
//
//   tether::set_num_threads(1);   // small models on a machine with few cores
//
// Today only matrix products are threaded, through OpenBLAS's pool, which
// starts at OpenBLAS's default (the CPUs the process may run on, or
// OPENBLAS_NUM_THREADS); every other CPU kernel runs on the calling thread.
// For small models one thread is often as fast and takes half the CPU time:
// a pool's hand-offs cost more than small products gain.
#pragma once

namespace tether {

/// Sets the threads CPU matrix products may use; throws ValueError unless
/// `threads` >= 1. With a CBLAS other than OpenBLAS this changes nothing.
void set_num_threads(int threads);
/// The threads CPU matrix products may use (1 with a CBLAS other than OpenBLAS).
int get_num_threads();

}  // namespace tether
