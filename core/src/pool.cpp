#include "tether/pool.h"

#include <array>
#include <cstdint>
#include <new>

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
namespace {

constexpr std::size_t kGranule = 16;
constexpr std::size_t kLargestPooled = 512;
constexpr std::size_t kClasses = kLargestPooled / kGranule;
/// Blocks kept per size class; more go back to the system, so that freeing a
/// very large graph does not pin its memory for the life of the thread.
constexpr std::uint32_t kMaxKept = 4096;

struct FreeBlock {
  FreeBlock* next;
};

/// One thread's free lists. Trivially destructible, so it stays usable while
/// other thread-local and static objects are destroyed after the Drain below.
struct FreeLists {
  std::array<FreeBlock*, kClasses> head{};
  std::array<std::uint32_t, kClasses> kept{};
  bool drained = false;
};

thread_local FreeLists lists;

/// Returns the thread's kept blocks to the system when the thread ends.
struct Drain {
  ~Drain() {
    for (std::size_t c = 0; c < kClasses; ++c)
      while (FreeBlock* block = lists.head[c]) {
        lists.head[c] = block->next;
        ::operator delete(block);
      }
    lists.drained = true;
  }
};

/// This thread's lists, registering their drain on first use.
FreeLists& thread_lists() {
  thread_local Drain drain;
  return lists;
}

std::size_t size_class(std::size_t bytes) {
  return (bytes + kGranule - 1) / kGranule - 1;
}

}  // namespace

void* pool_allocate(std::size_t bytes) {
  if (TETHER_POOL_ENABLED && bytes <= kLargestPooled) {
    FreeLists& free = thread_lists();
    const std::size_t c = size_class(bytes);
    if (FreeBlock* block = free.head[c]) {
      free.head[c] = block->next;
      --free.kept[c];
      return block;
    }
    return ::operator new((c + 1) * kGranule);
  }
  return ::operator new(bytes);
}

void pool_deallocate(void* block, std::size_t bytes) noexcept {
  if (TETHER_POOL_ENABLED && bytes <= kLargestPooled && !lists.drained) {
    FreeLists& free = thread_lists();
    const std::size_t c = size_class(bytes);
    if (free.kept[c] < kMaxKept) {
      free.head[c] = new (block) FreeBlock{free.head[c]};
      ++free.kept[c];
      return;
    }
  }
  ::operator delete(block);
}

}  // namespace tether::detail
