// A pool for the small objects every op creates and destroys: tensor handles'
// TensorImpl and Storage, graph nodes. A training step makes and frees a few
// hundred of them, in bursts (a backward frees a whole graph at once) that
// overflow malloc's small per-thread caches; here freed blocks go onto a
// per-thread free list for their size and come back in a few instructions.
//
// Under AddressSanitizer the pool hands every request to operator new, so
// that use-after-free bugs stay visible.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace tether::detail {

/// A block of at least `bytes`, aligned for any object up to 16 bytes aligned.
void* pool_allocate(std::size_t bytes);
/// Returns a block from pool_allocate(bytes); any thread may return it.
void pool_deallocate(void* block, std::size_t bytes) noexcept;

/// A standard allocator drawing from the pool, for std::allocate_shared.
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
