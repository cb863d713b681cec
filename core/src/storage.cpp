#include "tether/storage.h"

#include <utility>

#include "tether/allocator.h"

namespace tether {

Storage::Storage(std::size_t nbytes, Device device)
    : allocator_(&allocator(device)),
      data_(allocator_->allocate(nbytes)),
      nbytes_(nbytes),
      device_(device) {}

Storage::Storage(void* data, std::size_t nbytes, Device device, std::function<void(void*)> deleter)
    : allocator_(nullptr),
      deleter_(std::move(deleter)),
      data_(data),
      nbytes_(nbytes),
      device_(device) {}

Storage::~Storage() {
  if (allocator_)
    allocator_->deallocate(data_, nbytes_);
  else if (deleter_)
    deleter_(data_);
}

}  // namespace tether
