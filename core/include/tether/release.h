// Iterative release of long ownership chains.
//
// An autograd graph is a chain of shared pointers: a tensor owns its grad_fn,
// which owns the next node, and so on. Dropping the head of a 100,000-node chain
// by plain destructor recursion overflows the stack. release_iteratively()
// instead queues pointers released while a release is in progress and drains
// the queue in a loop, so the depth stays constant.
#pragma once

#include <memory>

namespace tether::detail {

void release_iteratively(std::shared_ptr<void>&& owner);

}  // namespace tether::detail
