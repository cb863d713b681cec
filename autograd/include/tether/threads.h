// How many threads tether's CPU kernels may use, as torch.set_num_threads.
//
//   tether::set_num_threads(1);   // small models on a machine with few cores
//
// The count sizes tether's one thread pool, which splits element-wise ops,
// copies, reductions (softmax, pooling), the index kernels behind
// convolution, the fused Adam step and the matrix products (by rows of the
// output, on Eigen's or OpenBLAS's kernel; OpenBLAS itself runs
// single-threaded, so no second pool competes for the cores). It starts at TETHER_NUM_THREADS,
// else OMP_NUM_THREADS, else the number of physical cores the process may run
// on. Tensors under 65,536 elements stay on the calling thread, so small ops
// cost what they did; results are bitwise the same for any thread count
// except sums over a split dimension (a full sum, a sum over the batch), which
// are bitwise repeatable for a given count and differ across counts by
// rounding, and matrix products, which agree across counts to rounding. For
// small models one thread is often as fast and takes half the CPU time.
#pragma once

namespace tether {

/// Sets the threads the CPU kernels, matrix products included, may use;
/// throws ValueError unless `threads` >= 1.
void set_num_threads(int threads);
/// The threads the CPU kernels may use.
int get_num_threads();

}  // namespace tether
