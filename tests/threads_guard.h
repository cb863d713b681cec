// Restores, at the end of a test, the CPU thread count it started with.
#pragma once

#include "tether/tether.h"

namespace tether::testing {

class ThreadsGuard {
 public:
  ThreadsGuard() : threads_(get_num_threads()) {}
  ~ThreadsGuard() { set_num_threads(threads_); }
  ThreadsGuard(const ThreadsGuard&) = delete;
  ThreadsGuard& operator=(const ThreadsGuard&) = delete;

 private:
  int threads_;
};

}  // namespace tether::testing
