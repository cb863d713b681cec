// Devices: where a tensor's storage lives, and which devices this build can use.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace tether {

enum class DeviceType : std::uint8_t { cpu, cuda };

/// Where a tensor's storage lives: the CPU, or CUDA device `index`.
struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::cpu, 0}; }
  static constexpr Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  constexpr bool is_cpu() const { return type == DeviceType::cpu; }
  constexpr bool is_cuda() const { return type == DeviceType::cuda; }
  constexpr bool operator==(const Device&) const = default;
  /// "cpu" or "cuda:N".
  std::string str() const;
};

std::ostream& operator<<(std::ostream& os, Device device);

/// The number of usable devices of `type`: 0 when its backend was not built or
/// no such device is present.
int device_count(DeviceType type);

/// Whether tether was built with CUDA and at least one CUDA device is usable.
bool cuda_is_available();

}  // namespace tether
