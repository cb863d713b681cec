#include "tether/threads.h"

#include "tether/backend/backend.h"
#include "tether/error.h"

namespace tether {

void set_num_threads(int threads) {
  if (threads < 1) fail<ValueError>("set_num_threads: expected at least 1 thread, got ", threads);
  backend::set_cpu_threads(threads);
}

int get_num_threads() {
  return backend::cpu_threads();
}

}  // namespace tether
