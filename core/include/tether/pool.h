// A pool for the small objects every op creates and destroys: tensor handles'
// TensorImpl and Storage, graph nodes and their edge lists. A training step
// makes and frees a few hundred of them, in bursts (a backward frees a whole
// graph at once) that overflow malloc's small per-thread caches; here freed
// blocks go onto a per-thread free list for their size class and come back in
// a few instructions.
//
// Under AddressSanitizer the pool hands every request to operator new, so
// that use-after-free bugs stay visible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define TETHER_POOL_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TETHER_POOL_ENABLED 0
#endif
#endif
#ifndef TETHER_POOL_ENABLED
#define TETHER_POOL_ENABLED 1
#endif

namespace tether::detail {

namespace pool {

/// Size classes are multiples of 16 bytes up to 512; larger blocks are not pooled.
inline constexpr std::size_t kGranule = 16;
inline constexpr std::size_t kLargest = 512;
inline constexpr std::size_t kClasses = kLargest / kGranule;
/// Blocks kept per size class; more go back to the system, so that freeing a
/// very large graph does not pin its memory for the life of the thread.
inline constexpr std::uint32_t kMaxKept = 4096;

struct FreeBlock {
  FreeBlock* next;
};

/// One thread's free lists. Trivially constructed and destroyed, so reaching
/// them costs no initialisation check, and they stay usable while the
/// thread's other objects are destroyed (after they were drained).
struct FreeLists {
  enum class State : std::uint8_t { unused, active, drained };
  FreeBlock* head[kClasses];
  std::uint32_t kept[kClasses];
  State state;
};

inline thread_local FreeLists lists{};

inline std::size_t size_class(std::size_t bytes) {
  return (bytes - 1) / kGranule;
}

/// The paths off the free lists: the first request of a thread, an empty
/// list, a full list, and blocks too large to pool.
void* allocate_slow(std::size_t bytes);
void deallocate_slow(void* block, std::size_t bytes) noexcept;

}  // namespace pool

/// A block of at least `bytes` (> 0), aligned for objects up to 16 bytes aligned.
inline void* pool_allocate(std::size_t bytes) {
  if (TETHER_POOL_ENABLED && bytes <= pool::kLargest) {
    pool::FreeLists& lists = pool::lists;
    const std::size_t c = pool::size_class(bytes);
    if (pool::FreeBlock* block = lists.head[c]) {
      lists.head[c] = block->next;
      --lists.kept[c];
      return block;
    }
  }
  return pool::allocate_slow(bytes);
}

/// Returns a block from pool_allocate(bytes); any thread may return it.
inline void pool_deallocate(void* block, std::size_t bytes) noexcept {
  if (TETHER_POOL_ENABLED && bytes <= pool::kLargest) {
    pool::FreeLists& lists = pool::lists;
    const std::size_t c = pool::size_class(bytes);
    if (lists.state == pool::FreeLists::State::active && lists.kept[c] < pool::kMaxKept) {
      lists.head[c] = ::new (block) pool::FreeBlock{lists.head[c]};
      ++lists.kept[c];
      return;
    }
  }
  pool::deallocate_slow(block, bytes);
}

/// A standard allocator drawing from the pool, for std::allocate_shared and
/// containers.
template <class T>
struct PoolAllocator {
  static_assert(alignof(T) <= 16, "the pool aligns blocks to 16 bytes");
  using value_type = T;

  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) {}

  T* allocate(std::size_t n) { return static_cast<T*>(pool_allocate(n * sizeof(T))); }
  void deallocate(T* block, std::size_t n) noexcept { pool_deallocate(block, n * sizeof(T)); }
  friend bool operator==(PoolAllocator, PoolAllocator) { return true; }
};

/// std::make_shared with the object and its reference counts in one pooled block.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace tether::detail
