// How many threads tether's CPU kernels may use, as torch.set_num_threads.
//
//   tether::set_num_threads(1);   // small models on a machine with few cores
//
// One count governs both of tether's thread pools: its own, which splits
// element-wise ops, copies, reductions (softmax, pooling), the index kernels
// behind convolution and the fused Adam step over large tensors, and
// OpenBLAS's, which runs the matrix products. It starts at TETHER_NUM_THREADS,
// else OMP_NUM_THREADS, else the number of physical cores the process may run
// on. Tensors under 65,536 elements stay on the calling thread, so small ops
// cost what they did; results are bitwise the same for any thread count
// except sums over a split dimension (a full sum, a sum over the batch), which
// are bitwise repeatable for a given count and differ across counts by
// rounding (matrix products follow OpenBLAS, which behaves the same way). For
// small models one thread is often as fast and takes half the CPU time.
#pragma once

namespace tether {

/// Sets the threads the CPU kernels (and OpenBLAS's matrix products) may use;
/// throws ValueError unless `threads` >= 1.
void set_num_threads(int threads);
/// The threads the CPU kernels may use.
int get_num_threads();

}  // namespace tether
