// The CPU kernels' thread pool (tether/backend/parallel.h) and its thread
// count (cpu_threads, set by tether::set_num_threads).
//
// A pool of our own rather than OpenMP: set_num_threads then governs it
// exactly, and the sanitizers see every synchronisation. It serves matrix
// products too (matmul.cpp splits them by rows), so OpenBLAS runs
// single-threaded and no second pool spins beside it. An idle worker polls
// for the next job for 100 us, then sleeps on a condition variable, so a
// process that stops computing gives its cores back.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tether/backend/backend.h"
#include "tether/backend/parallel.h"

// OpenBLAS's thread-pool size, when the CBLAS linked is OpenBLAS. A weak
// reference: with another CBLAS it is null.
extern "C" {
void openblas_set_num_threads(int threads) __attribute__((weak));
}

namespace tether::backend {
namespace {

/// Set on the pool's workers and on a caller while it runs chunks: a
/// parallel_for there runs serially.
thread_local bool in_parallel_region = false;

/// CPUs this process may run on, counting the hyper-threads of one core once
/// (as PyTorch's default); all CPUs it may run on where the topology is unknown.
int physical_cores() {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::set<std::string> cores;
  int cpus = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    ++cpus;
    std::ifstream siblings("/sys/devices/system/cpu/cpu" + std::to_string(cpu) +
                           "/topology/thread_siblings_list");
    std::string list;
    cores.insert(siblings >> list ? list : std::to_string(cpu));
  }
  return std::max(1, std::min(cpus, static_cast<int>(cores.size())));
}

/// TETHER_NUM_THREADS, else OMP_NUM_THREADS (as PyTorch), else the physical
/// cores; a value that is not a positive integer is ignored.
int default_threads() {
  for (const char* name : {"TETHER_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    const long threads = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && threads >= 1 && threads <= 4096)
      return static_cast<int>(threads);
  }
  return physical_cores();
}

/// OpenBLAS runs single-threaded: matmul.cpp splits its products over this
/// pool, so one pool serves every kernel and no second one spins beside it.
void single_threaded_blas() {
  if (openblas_set_num_threads) openblas_set_num_threads(1);
}

/// The thread count, defaulted (and handed to BLAS) on first use.
std::atomic<int>& thread_count() {
  static std::atomic<int> threads = [] {
    const int threads = default_threads();
    single_threaded_blas();
    return threads;
  }();
  return threads;
}

/// A spin-wait's pause: it tells the core the loop waits (x86's PAUSE).
inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// One parallel_for's chunks, claimed in index order by whoever is free.
class Job {
 public:
  Job(std::int64_t chunks, void (*body)(const void*, std::int64_t), const void* context)
      : chunks_(chunks), body_(body), context_(context) {}

  /// Runs chunks until none is left (or one has thrown).
  void work() {
    const bool was_in_region = std::exchange(in_parallel_region, true);
    for (;;) {
      if (failed_.load(std::memory_order_relaxed)) break;
      const std::int64_t chunk = next_.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= chunks_) break;
      try {
        body_(context_, chunk);
      } catch (...) {
        record_failure(chunk, std::current_exception());
      }
    }
    in_parallel_region = was_in_region;
  }

  /// Rethrows the exception of the lowest chunk that threw, if any.
  void rethrow_failure() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Chunks are claimed in order, so every chunk below a failed one has
  // started and runs to its end: the lowest failure is always recorded.
  void record_failure(std::int64_t chunk, std::exception_ptr error) {
    const std::lock_guard lock(error_mutex_);
    if (!error_ || chunk < error_chunk_) {
      error_ = std::move(error);
      error_chunk_ = chunk;
    }
    failed_.store(true, std::memory_order_relaxed);
  }

  const std::int64_t chunks_;
  void (*const body_)(const void*, std::int64_t);
  const void* const context_;
  std::atomic<std::int64_t> next_{0};
  std::atomic<bool> failed_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::int64_t error_chunk_ = 0;
};

/// Worker threads that join a posted Job. One job at a time: run() is
/// called with busy() held.
class Pool {
 public:
  Pool() = default;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() { resize(0); }

  /// Held by the thread whose job the pool runs.
  std::mutex& busy() { return busy_; }

  /// Makes the pool `workers` threads strong (stopping the old ones).
  void resize(int workers) {
    if (static_cast<int>(workers_.size()) == workers) return;
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    stopping_ = false;
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { serve(); });
  }

  /// Runs `job` on the workers and the calling thread; returns when every
  /// chunk has run and no worker holds the job any more.
  void run(Job& job) {
    {
      const std::lock_guard lock(mutex_);
      job_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    job.work();
    spin_while([&] { return attached_.load(std::memory_order_acquire) != 0; });
    std::unique_lock lock(mutex_);
    job_ = nullptr;
    idle_.wait(lock, [&] { return attached_ == 0; });
  }

 private:
  void serve() {
    in_parallel_region = true;
    std::uint64_t seen = generation_.load(std::memory_order_relaxed);
    for (;;) {
      spin_while([&] {
        return generation_.load(std::memory_order_acquire) == seen &&
               !stopping_.load(std::memory_order_relaxed);
      });
      std::unique_lock lock(mutex_);
      wake_.wait(lock,
                 [&] { return stopping_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stopping_) return;
      seen = generation_.load(std::memory_order_relaxed);
      if (job_ == nullptr) continue;  // woke after the caller finished it alone
      Job& job = *job_;
      ++attached_;
      lock.unlock();
      job.work();
      lock.lock();
      if (--attached_ == 0) idle_.notify_all();
    }
  }

  /// Polls `waiting()` for a short while before the caller sleeps on a
  /// condition variable: a training step posts its kernels back to back,
  /// and waking a sleeping thread costs tens of microseconds on a VM, as
  /// long as a whole 1M-element op. The condition is checked after every
  /// pause, so a posted job is seen within one pause (some 60 cycles), not
  /// after a whole round of them.
  template <class Waiting>
  static void spin_while(Waiting waiting) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (waiting()) {
      for (int i = 0; i < 64 && waiting(); ++i) relax();
      if (std::chrono::steady_clock::now() > until) return;
    }
  }

  static constexpr std::chrono::microseconds kSpin{100};

  std::mutex busy_;
  std::mutex mutex_;  // guards the members below
  std::condition_variable wake_, idle_;
  Job* job_ = nullptr;
  std::atomic<std::uint64_t> generation_{0};  // written under mutex_, read outside it too
  std::atomic<int> attached_{0};              // written under mutex_, read outside it too
  std::atomic<bool> stopping_{false};         // written under mutex_, read outside it too
  std::vector<std::thread> workers_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

namespace detail {

std::int64_t parallel_chunk_count(std::int64_t n, std::int64_t grain) {
  const std::int64_t threads = thread_count().load(std::memory_order_relaxed);
  if (in_parallel_region || threads == 1) return 1;
  // A few chunks a thread: when one thread is slow to start (a busy
  // machine), the others take its share instead of waiting for it.
  return std::max<std::int64_t>(
      1, std::min(kChunksPerThread * threads, n / std::max<std::int64_t>(grain, 1)));
}

void run_chunks(std::int64_t chunks, void (*body)(const void*, std::int64_t), const void* context) {
  Job job(chunks, body, context);
  // Inside a chunk, or while another thread's job holds the pool: run this
  // one here rather than wait.
  std::unique_lock busy(pool().busy(), std::defer_lock);
  if (in_parallel_region || !busy.try_lock()) {
    job.work();
  } else {
    pool().resize(thread_count().load(std::memory_order_relaxed) - 1);
    pool().run(job);
  }
  job.rethrow_failure();
}

}  // namespace detail

int cpu_threads() {
  return thread_count().load(std::memory_order_relaxed);
}

void set_cpu_threads(int threads) {
  thread_count().store(threads, std::memory_order_relaxed);
  single_threaded_blas();
}

}  // namespace tether::backend
