#include "tether/storage.h"

#include "tether/allocator.h"

namespace tether {

Storage::Storage(std::size_t nbytes, Device device)
    : allocator_(&allocator(device)),
      data_(allocator_->allocate(nbytes)),
      nbytes_(nbytes),
      device_(device) {}

Storage::~Storage() {
  allocator_->deallocate(data_, nbytes_);
}

}  // namespace tether
