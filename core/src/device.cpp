// device_count and cuda_is_available answer from the backends' registration,
// so they live beside it in allocator.cpp.
#include "tether/device.h"

namespace tether {

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& os, Device device) {
  return os << device.str();
}

}  // namespace tether
