// Intra-op parallelism for the CPU kernels: one pool of worker threads and
// parallel_for, which splits an index range into chunks run side by side.
//
//   parallel_for(0, n, kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
//     for (std::int64_t i = begin; i < end; ++i) out[i] = in[i] * 2;
//   });
//
// A range shorter than twice the grain runs on the calling thread, straight
// away (one comparison: a 4-element op pays nothing for the pool). A longer one
// is cut into min(kChunksPerThread * threads, n / grain) chunks of equal size
// (one chunk on one thread), which the threads claim in order, so the partition,
// and with it every result, depends only on the range, the grain and the thread
// count (cpu_threads()), never on timing: a reduction that folds each chunk and
// then combines the chunks in order gives the same bits on every run with the
// same thread count. The caller runs chunks too; a parallel_for inside a chunk
// (or while another thread's parallel_for holds the pool) runs its chunks on
// its own thread, in order, so nesting cannot deadlock.
#pragma once

#include <algorithm>
#include <cstdint>

namespace tether::backend {

/// The grain of cheap element-wise work, in elements (PyTorch's GRAIN_SIZE):
/// waking a worker costs about as much as adding this many floats.
inline constexpr std::int64_t kParallelGrain = 32768;
/// The most chunks a range is cut into per thread.
inline constexpr std::int64_t kChunksPerThread = 4;

namespace detail {

/// The number of chunks a range of n > 0 indices is cut into (1: serial).
std::int64_t parallel_chunk_count(std::int64_t n, std::int64_t grain);
/// Runs body(context, chunk) for every chunk in [0, chunks), on the pool's
/// workers and the calling thread, and returns once all have run. If chunks
/// throw, the chunks not yet started are skipped and the exception of the
/// lowest chunk that threw is rethrown on the caller.
void run_chunks(std::int64_t chunks, void (*body)(const void* context, std::int64_t chunk),
                const void* context);

}  // namespace detail

/// The first index of chunk `chunk` of [begin, end) cut into `chunks` parts
/// whose sizes differ by at most one.
inline std::int64_t chunk_start(std::int64_t begin, std::int64_t end, std::int64_t chunks,
                                std::int64_t chunk) {
  const std::int64_t n = end - begin;
  return begin + n / chunks * chunk + std::min(n % chunks, chunk);
}

/// The number of chunks parallel_for cuts [begin, end) into with `grain` at
/// the current thread count (0 for an empty range, 1 to run serially).
inline std::int64_t parallel_chunks(std::int64_t begin, std::int64_t end, std::int64_t grain) {
  const std::int64_t n = end - begin;
  if (n <= 0) return 0;
  return n < 2 * grain ? 1 : detail::parallel_chunk_count(n, grain);
}

/// Calls fn(chunk, chunk_begin, chunk_end) for each of the `chunks` parts of
/// [begin, end) (chunks from parallel_chunks), chunk counting from 0 in index
/// order; a kernel that keeps one partial result per chunk sizes its buffers
/// by that count first. Exceptions thrown by fn surface here (see run_chunks).
template <class F>
void for_each_chunk(std::int64_t begin, std::int64_t end, std::int64_t chunks, const F& fn) {
  if (chunks <= 0) return;
  if (chunks == 1) return fn(std::int64_t{0}, begin, end);
  struct Range {
    std::int64_t begin, end, chunks;
    const F* fn;
  } range{begin, end, chunks, &fn};
  detail::run_chunks(
      chunks,
      [](const void* context, std::int64_t chunk) {
        const Range& r = *static_cast<const Range*>(context);
        (*r.fn)(chunk, chunk_start(r.begin, r.end, r.chunks, chunk),
                chunk_start(r.begin, r.end, r.chunks, chunk + 1));
      },
      &range);
}

/// Calls fn(chunk_begin, chunk_end) over the chunks of [begin, end) (see above).
template <class F>
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, const F& fn) {
  for_each_chunk(begin, end, parallel_chunks(begin, end, grain),
                 [&](std::int64_t, std::int64_t first, std::int64_t last) { fn(first, last); });
}

}  // namespace tether::backend
