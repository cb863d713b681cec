#include "tether/backend/backend.h"
#include "tether/error.h"

namespace tether::backend {

Backend& cpu_backend();

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu_backend();
  fail<DeviceError>("backend: device ", device, " is not available in this build of tether");
}

}  // namespace tether::backend
