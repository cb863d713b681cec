#include "tether/pool.h"

namespace tether::detail::pool {
namespace {

/// Returns the thread's kept blocks to the system when the thread ends; from
/// then on its blocks go straight back to the system.
struct Drain {
  ~Drain() {
    for (std::size_t c = 0; c < kClasses; ++c)
      while (FreeBlock* block = lists.head[c]) {
        lists.head[c] = block->next;
        ::operator delete(block);
      }
    lists.state = FreeLists::State::drained;
  }
};

/// Starts pooling on this thread, once: registers the drain.
void activate() {
  if (lists.state != FreeLists::State::unused) return;
  thread_local Drain drain;
  lists.state = FreeLists::State::active;
}

}  // namespace

void* allocate_slow(std::size_t bytes) {
  if (!TETHER_POOL_ENABLED || bytes > kLargest) return ::operator new(bytes);
  activate();
  // The whole class's size, as the block may serve any request of its class later.
  return ::operator new((size_class(bytes) + 1) * kGranule);
}

void deallocate_slow(void* block, std::size_t bytes) noexcept {
  if (TETHER_POOL_ENABLED && bytes <= kLargest && lists.state == FreeLists::State::unused) {
    activate();
    return pool_deallocate(block, bytes);
  }
  ::operator delete(block);
}

}  // namespace tether::detail::pool
