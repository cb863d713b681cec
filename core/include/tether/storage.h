// Storage: one buffer on one device, shared by a tensor and its views, with the
// version counter that autograd and computed parameters watch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "tether/device.h"

namespace tether {

class Allocator;

class Storage {
 public:
  /// Allocates `nbytes` (uninitialised) from the device's allocator.
  Storage(std::size_t nbytes, Device device);
  /// Wraps `nbytes` of memory the caller owns, without copying; `deleter`
  /// (if any) is called with `data` once, when the storage dies.
  Storage(void* data, std::size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  /// Bumped by every in-place write through any view of this storage.
  std::uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  Allocator* allocator_;  ///< the one data_ came from, which takes it back; null if wrapped
  std::function<void(void*)> deleter_;  ///< for wrapped memory: how its owner frees it
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  std::uint64_t version_ = 0;
};

}  // namespace tether
