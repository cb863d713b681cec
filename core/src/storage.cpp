#include "tether/storage.h"

#include "tether/allocator.h"

namespace tether {

Storage::Storage(std::size_t nbytes, Device device)
    : data_(allocator(device).allocate(nbytes)), nbytes_(nbytes), device_(device) {}

Storage::~Storage() {
  allocator(device_).deallocate(data_, nbytes_);
}

}  // namespace tether
