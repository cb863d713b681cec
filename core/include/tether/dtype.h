// Element types: the dtype tag every tensor carries (its device is in device.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

namespace tether {

/// Element type of a tensor. f32 is the default; f64 is for gradient checks and
/// precision-sensitive work; i64 holds labels and indices.
enum class DType : std::uint8_t { f32, f64, i64 };

/// Bytes per element.
constexpr std::size_t element_size(DType dtype) {
  return dtype == DType::f32 ? 4 : 8;
}

constexpr bool is_floating(DType dtype) {
  return dtype != DType::i64;
}

/// The floating dtype factories default to, and the one integers become when
/// they meet a floating-point scalar or a true division (torch.get_default_dtype()).
inline constexpr DType default_float_dtype = DType::f32;

/// The smallest dtype that holds values of both a and b, as torch.promote_types:
/// i64 < f32 < f64.
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  return a == DType::f64 || b == DType::f64 ? DType::f64 : DType::f32;
}

/// Whether a result computed in `from` may be written into a tensor of dtype
/// `to` (an in-place op's destination), as torch.can_cast: everything except
/// floating into integer.
constexpr bool can_cast(DType from, DType to) {
  return is_floating(to) || !is_floating(from);
}

/// "f32", "f64" or "i64".
std::string_view name(DType dtype);
std::ostream& operator<<(std::ostream& os, DType dtype);

/// The DType of a C++ element type: dtype_of<float>() == DType::f32.
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::i64;
}

}  // namespace tether
