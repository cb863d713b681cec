#include "tether/allocator.h"

#include <sys/mman.h>
#include <sys/sysinfo.h>

#include <array>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <vector>

#include "tether/error.h"

namespace tether {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

// Size classes: four per power of two above 64 bytes, so rounding wastes at
// most 25% (and nothing below 256 bytes but the 64-byte granularity).
constexpr int kSubClasses = 4;

int size_class(std::size_t nbytes) {
  if (nbytes <= kAlignment) return 0;
  const int log2 = std::bit_width(nbytes - 1) - 1;  // nbytes in (2^log2, 2^(log2+1)]
  const std::size_t step = (std::size_t{1} << log2) / kSubClasses;
  const std::size_t sub = (nbytes - (std::size_t{1} << log2) + step - 1) / step;  // 1..4
  return (log2 - 6) * kSubClasses + static_cast<int>(sub);
}

std::size_t class_bytes(int cls) {
  if (cls == 0) return kAlignment;
  const std::size_t base = std::size_t{1} << ((cls - 1) / kSubClasses + 6);
  return base + base / kSubClasses * static_cast<std::size_t>((cls - 1) % kSubClasses + 1);
}

constexpr int kClasses = 64 * kSubClasses;

/// Size classes up to this one (64 KiB blocks) are also cached per thread.
constexpr int kThreadClasses = 41;
/// Blocks a thread keeps per class before returning them to the shared lists.
constexpr int kThreadBlocks = 16;

/// The most memory the system can back: RAM and swap. A larger request fails
/// at once; the system might grant it lazily (overcommit) and then kill the
/// process on first touch.
std::size_t system_memory() {
  static const std::size_t bytes = [] {
    struct sysinfo info {};
    if (sysinfo(&info) != 0) return std::numeric_limits<std::size_t>::max();
    return (static_cast<std::size_t>(info.totalram) + info.totalswap) * info.mem_unit;
  }();
  return bytes;
}

/// A counter written by one thread at a time (its owner, or anyone holding
/// the allocator's mutex once the owner has ended), so a plain load and store
/// update it, and read by any thread in stats().
class OwnedCounter {
 public:
  void add(std::int64_t delta) {
    value_.store(value_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }
  std::int64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

/// What one thread's allocations and frees add to the statistics. The byte
/// counts are net: a thread freeing what another allocated goes negative.
struct Counters {
  OwnedCounter requests, cache_hits, bytes_in_use, bytes_cached;

  void count_allocation(std::int64_t bytes, bool hit) {
    requests.add(1);
    bytes_in_use.add(bytes);
    if (!hit) return;
    cache_hits.add(1);
    bytes_cached.add(-bytes);
  }
  void count_free(std::int64_t bytes) {
    bytes_in_use.add(-bytes);
    bytes_cached.add(bytes);
  }
  void absorb(const Counters& other) {
    requests.add(other.requests.get());
    cache_hits.add(other.cache_hits.get());
    bytes_in_use.add(other.bytes_in_use.get());
    bytes_cached.add(other.bytes_cached.get());
  }
};

using FreeLists = std::array<std::vector<void*>, kClasses>;

/// One thread's blocks and counters. Trivially constructed and destroyed:
/// the thread's Retirement (in the allocator) hands its blocks and counts over when the
/// thread ends, and any later request of the thread takes the locked path.
struct ThreadCache {
  enum class State : std::uint8_t { unused, active, retired };

  void flush_into(FreeLists& lists) {
    for (int cls = 0; cls < kThreadClasses; ++cls)
      while (count[cls] > 0) lists[cls].push_back(blocks[cls][--count[cls]]);
  }

  Counters counters;
  void* blocks[kThreadClasses][kThreadBlocks] = {};
  int count[kThreadClasses] = {};
  State state = State::unused;
};

/// The calling thread's cache (of the one CPU allocator).
thread_local ThreadCache this_thread_cache;

/// The CPU allocator: freed blocks are kept by size class, first in a small
/// per-thread cache that needs no lock (most blocks of a training step are
/// freed and reused by the thread that made them), then in lists shared under
/// a mutex.
class CpuCachingAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    if (nbytes > system_memory())
      fail<OutOfMemoryError>("cannot allocate ", nbytes, " bytes: the system has ", system_memory(),
                             " bytes of memory and swap");
    const int cls = size_class(std::max<std::size_t>(nbytes, 1));
    const auto bytes = static_cast<std::int64_t>(class_bytes(cls));
    ThreadCache* cache = thread_cache();
    if (cache && cls < kThreadClasses && cache->count[cls] > 0) {
      cache->counters.count_allocation(bytes, true);
      return cache->blocks[cls][--cache->count[cls]];
    }
    std::lock_guard lock(mutex_);
    auto& list = free_[cls];
    const bool hit = !list.empty();
    (cache ? cache->counters : orphans_).count_allocation(bytes, hit);
    if (!hit) {
      ++system_allocs_;
      return system_allocate(static_cast<std::size_t>(bytes));
    }
    void* ptr = list.back();
    list.pop_back();
    return ptr;
  }

  void deallocate(void* ptr, std::size_t nbytes) override {
    if (!ptr) return;
    const int cls = size_class(std::max<std::size_t>(nbytes, 1));
    const auto bytes = static_cast<std::int64_t>(class_bytes(cls));
    ThreadCache* cache = thread_cache();
    if (cache && cls < kThreadClasses && cache->count[cls] < kThreadBlocks) {
      cache->counters.count_free(bytes);
      cache->blocks[cls][cache->count[cls]++] = ptr;
      return;
    }
    std::lock_guard lock(mutex_);
    (cache ? cache->counters : orphans_).count_free(bytes);
    free_[cls].push_back(ptr);
  }

  AllocatorStats stats() const override {
    std::lock_guard lock(mutex_);
    Counters total;
    total.absorb(orphans_);
    for (const Counters* counters : live_) total.absorb(*counters);
    return {.requests = static_cast<std::uint64_t>(total.requests.get() - baseline_requests_),
            .cache_hits = static_cast<std::uint64_t>(total.cache_hits.get() - baseline_hits_),
            .system_allocs = system_allocs_ - baseline_system_allocs_,
            .system_frees = system_frees_ - baseline_system_frees_,
            .bytes_in_use = static_cast<std::size_t>(total.bytes_in_use.get()),
            .bytes_cached = static_cast<std::size_t>(total.bytes_cached.get() - freed_bytes_)};
  }

  /// Counters belong to their threads: a reset remembers where they stood,
  /// and stats() reports the difference.
  void reset_stats() override {
    const AllocatorStats now = stats();
    std::lock_guard lock(mutex_);
    baseline_requests_ += static_cast<std::int64_t>(now.requests);
    baseline_hits_ += static_cast<std::int64_t>(now.cache_hits);
    baseline_system_allocs_ = system_allocs_;
    baseline_system_frees_ = system_frees_;
  }

  /// Frees the shared lists and the calling thread's cache (other threads'
  /// caches, at most 16 blocks of 64 KiB or less per size class, go to the
  /// shared lists when those threads end).
  void empty_cache() override {
    ThreadCache* cache = thread_cache();
    std::lock_guard lock(mutex_);
    if (cache) cache->flush_into(free_);
    free_shared_lists();
  }

 private:
  /// Registers this thread's cache on its first use, and retires it at exit.
  struct Retirement {
    explicit Retirement(CpuCachingAllocator& owner) : owner(owner) {
      std::lock_guard lock(owner.mutex_);
      owner.live_.push_back(&this_thread_cache.counters);
      this_thread_cache.state = ThreadCache::State::active;
    }
    ~Retirement() {
      std::lock_guard lock(owner.mutex_);
      this_thread_cache.flush_into(owner.free_);
      owner.orphans_.absorb(this_thread_cache.counters);
      std::erase(owner.live_, &this_thread_cache.counters);
      this_thread_cache.state = ThreadCache::State::retired;
    }
    CpuCachingAllocator& owner;
  };

  /// This thread's cache, or null once the thread has begun to end.
  ThreadCache* thread_cache() {
    if (this_thread_cache.state == ThreadCache::State::active) return &this_thread_cache;
    if (this_thread_cache.state == ThreadCache::State::retired) return nullptr;
    thread_local Retirement retirement(*this);
    return &this_thread_cache;
  }

  /// Caller holds mutex_.
  void free_shared_lists() {
    for (int cls = 0; cls < kClasses; ++cls) {
      if (free_[cls].empty()) continue;  // no request reaches the top classes, whose size overflows
      for (void* ptr : free_[cls]) std::free(ptr);
      system_frees_ += free_[cls].size();
      freed_bytes_ += static_cast<std::int64_t>(free_[cls].size() * class_bytes(cls));
      free_[cls].clear();
    }
  }

  static void* system_allocate(std::size_t bytes) {
    // Large blocks are huge-page aligned and advised, which makes their first
    // touch ~50x cheaper on these VMs.
    const std::size_t alignment = bytes >= kHugePage ? kHugePage : kAlignment;
    // aligned_alloc requires a multiple of the alignment (size classes such as
    // 80 bytes are not), so round up; ASan rejects the call otherwise.
    const std::size_t padded = (bytes + alignment - 1) / alignment * alignment;
    void* ptr = std::aligned_alloc(alignment, padded);
    if (!ptr) fail<OutOfMemoryError>("out of memory allocating ", bytes, " bytes");
    if (alignment == kHugePage) madvise(ptr, padded, MADV_HUGEPAGE);
    return ptr;
  }

  // Guarded by mutex_.
  mutable std::mutex mutex_;
  FreeLists free_;
  std::vector<const Counters*> live_;  ///< the counters of threads alive now
  Counters orphans_;                   ///< counts of ended threads, and of ending ones
  std::int64_t baseline_requests_ = 0, baseline_hits_ = 0;  ///< at the last reset_stats()
  std::uint64_t baseline_system_allocs_ = 0, baseline_system_frees_ = 0;
  std::uint64_t system_allocs_ = 0, system_frees_ = 0;
  std::int64_t freed_bytes_ = 0;  ///< cached bytes returned to the system
};

/// The allocator lives until the process ends, never destroyed: a thread
/// that ends during or after static destruction (a thread pool's workers
/// joined by its own static's destructor, a user's detached thread) hands
/// its cache back here, and a storage freed by a later static's destructor
/// returns its block here. Its cached blocks stay reachable to the end.
Allocator& cpu_allocator(int) {
  static CpuCachingAllocator& cpu = *new CpuCachingAllocator;
  return cpu;
}

int one_device() {
  return 1;
}

std::array<DeviceRegistration, 2>& registry() {
  static std::array<DeviceRegistration, 2> registrations = {
      DeviceRegistration{cpu_allocator, one_device}, DeviceRegistration{}};
  return registrations;
}

}  // namespace

Allocator& allocator(Device device) {
  const DeviceRegistration& registration = registry()[static_cast<int>(device.type)];
  if (!registration.allocator)
    fail<DeviceError>("allocate: device ", device, " is not available in this build of tether");
  return registration.allocator(device.index);
}

void register_device_type(DeviceType type, DeviceRegistration registration) {
  registry()[static_cast<int>(type)] = registration;
}

int device_count(DeviceType type) {
  const DeviceRegistration& registration = registry()[static_cast<int>(type)];
  return registration.device_count ? registration.device_count() : 0;
}

bool cuda_is_available() {
  return device_count(DeviceType::cuda) > 0;
}

}  // namespace tether
