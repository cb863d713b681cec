#include "tether/release.h"

#include <vector>

namespace tether::detail {

namespace {
thread_local std::vector<std::shared_ptr<void>>* pending = nullptr;
}

void release_iteratively(std::shared_ptr<void>&& owner) {
  if (!owner) return;
  if (owner.use_count() > 1) {  // not the last owner: nothing is destroyed here
    owner.reset();
    return;
  }
  if (pending) {  // a release further up the stack will drain this one
    pending->push_back(std::move(owner));
    return;
  }
  std::vector<std::shared_ptr<void>> queue;
  pending = &queue;
  queue.push_back(std::move(owner));
  while (!queue.empty()) {
    std::shared_ptr<void> next = std::move(queue.back());
    queue.pop_back();
    next.reset();  // destructors called here append to `queue` instead of recursing
  }
  pending = nullptr;
}

}  // namespace tether::detail
