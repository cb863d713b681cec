#include "cpu_backend.h"

namespace tether::backend {

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

}  // namespace tether::backend
