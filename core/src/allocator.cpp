#include "tether/allocator.h"

#include <sys/mman.h>

#include <array>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "tether/error.h"

namespace tether {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

// Size classes: four per power of two above 64 bytes, so rounding wastes at
// most 25% (and nothing below 256 bytes but the 64-byte granularity).
constexpr int kSubClasses = 4;

int size_class(std::size_t nbytes) {
  if (nbytes <= kAlignment) return 0;
  const int log2 = std::bit_width(nbytes - 1) - 1;  // nbytes in (2^log2, 2^(log2+1)]
  const std::size_t step = (std::size_t{1} << log2) / kSubClasses;
  const std::size_t sub = (nbytes - (std::size_t{1} << log2) + step - 1) / step;  // 1..4
  return (log2 - 6) * kSubClasses + static_cast<int>(sub);
}

std::size_t class_bytes(int cls) {
  if (cls == 0) return kAlignment;
  const std::size_t base = std::size_t{1} << ((cls - 1) / kSubClasses + 6);
  return base + base / kSubClasses * static_cast<std::size_t>((cls - 1) % kSubClasses + 1);
}

constexpr int kClasses = 64 * kSubClasses;

class CpuCachingAllocator final : public Allocator {
 public:
  ~CpuCachingAllocator() override { empty_cache(); }

  void* allocate(std::size_t nbytes) override {
    const int cls = size_class(std::max<std::size_t>(nbytes, 1));
    std::lock_guard lock(mutex_);
    ++stats_.requests;
    const std::size_t bytes = class_bytes(cls);
    stats_.bytes_in_use += bytes;
    auto& list = free_[cls];
    if (!list.empty()) {
      void* ptr = list.back();
      list.pop_back();
      ++stats_.cache_hits;
      stats_.bytes_cached -= bytes;
      return ptr;
    }
    ++stats_.system_allocs;
    return system_allocate(bytes);
  }

  void deallocate(void* ptr, std::size_t nbytes) override {
    if (!ptr) return;
    const int cls = size_class(std::max<std::size_t>(nbytes, 1));
    const std::size_t bytes = class_bytes(cls);
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= bytes;
    stats_.bytes_cached += bytes;
    free_[cls].push_back(ptr);
  }

  AllocatorStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void reset_stats() override {
    std::lock_guard lock(mutex_);
    stats_ =
        AllocatorStats{.bytes_in_use = stats_.bytes_in_use, .bytes_cached = stats_.bytes_cached};
  }

  void empty_cache() override {
    std::lock_guard lock(mutex_);
    for (auto& list : free_) {
      for (void* ptr : list) std::free(ptr);
      stats_.system_frees += list.size();
      list.clear();
    }
    stats_.bytes_cached = 0;
  }

 private:
  static void* system_allocate(std::size_t bytes) {
    // Large blocks are huge-page aligned and advised, which makes their first
    // touch ~50x cheaper on these VMs.
    const std::size_t alignment = bytes >= kHugePage ? kHugePage : kAlignment;
    // aligned_alloc requires a multiple of the alignment (size classes such as
    // 80 bytes are not), so round up; ASan rejects the call otherwise.
    const std::size_t padded = (bytes + alignment - 1) / alignment * alignment;
    void* ptr = std::aligned_alloc(alignment, padded);
    if (!ptr) fail<Error>("allocate: out of memory requesting ", bytes, " bytes");
    if (alignment == kHugePage) madvise(ptr, padded, MADV_HUGEPAGE);
    return ptr;
  }

  mutable std::mutex mutex_;
  std::array<std::vector<void*>, kClasses> free_;
  AllocatorStats stats_;
};

Allocator& cpu_allocator(int) {
  static CpuCachingAllocator cpu;
  return cpu;
}

int one_device() {
  return 1;
}

std::array<DeviceRegistration, 2>& registry() {
  static std::array<DeviceRegistration, 2> registrations = {
      DeviceRegistration{cpu_allocator, one_device}, DeviceRegistration{}};
  return registrations;
}

}  // namespace

Allocator& allocator(Device device) {
  const DeviceRegistration& registration = registry()[static_cast<int>(device.type)];
  if (!registration.allocator)
    fail<DeviceError>("allocate: device ", device, " is not available in this build of tether");
  return registration.allocator(device.index);
}

void register_device_type(DeviceType type, DeviceRegistration registration) {
  registry()[static_cast<int>(type)] = registration;
}

int device_count(DeviceType type) {
  const DeviceRegistration& registration = registry()[static_cast<int>(type)];
  return registration.device_count ? registration.device_count() : 0;
}

bool cuda_is_available() {
  return device_count(DeviceType::cuda) > 0;
}

}  // namespace tether
