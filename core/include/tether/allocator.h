// Memory allocators. The CPU allocator caches freed blocks by size class and
// hands them out again: on these machines a fresh page costs ~11 us on first
// touch, so a training loop must not return memory to the OS every step.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tether/device.h"

namespace tether {

/// Counters of one allocator since the last reset_stats().
struct AllocatorStats {
  std::uint64_t requests = 0;       ///< allocate() calls
  std::uint64_t cache_hits = 0;     ///< requests served from the cache
  std::uint64_t system_allocs = 0;  ///< requests that went to the system
  std::uint64_t system_frees = 0;   ///< blocks returned to the system
  std::size_t bytes_in_use = 0;     ///< bytes handed out and not yet returned
  std::size_t bytes_cached = 0;     ///< bytes held in the cache
};

/// A device's allocator. Blocks are 64-byte aligned.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr, std::size_t nbytes) = 0;
  virtual AllocatorStats stats() const = 0;
  /// Zeroes the counters (bytes_in_use and bytes_cached are kept).
  virtual void reset_stats() = 0;
  /// Returns every cached block to the system.
  virtual void empty_cache() = 0;
};

/// The allocator for `device`. Throws DeviceError when the device's backend was
/// not built or the device is not usable.
Allocator& allocator(Device device);

/// How a backend provides memory for one device type: the allocator of device
/// `index` (throwing DeviceError when that device is not usable) and the number
/// of usable devices.
struct DeviceRegistration {
  Allocator& (*allocator)(int index);
  int (*device_count)();
};

/// Backends register each device type they drive at start-up (the CPU is built in).
void register_device_type(DeviceType type, DeviceRegistration registration);

}  // namespace tether
