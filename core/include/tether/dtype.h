// Element types: the dtype tag every tensor carries (its device is in device.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

namespace tether {

/// Element type of a tensor. f32 is the default; f64 is for gradient checks and
/// precision-sensitive work; i64 holds labels and indices; boolean (torch.bool,
/// printed "bool", one byte holding 0 or 1) holds masks: what comparisons,
/// isnan and the logical ops return, and what where and masked_fill take.
/// Arithmetic kernels exist for f32, f64 and i64 only: an arithmetic op
/// promotes a boolean operand first (as PyTorch: true + 1 is 2, an i64) or
/// refuses it by name (neg of a mask).
enum class DType : std::uint8_t { f32, f64, i64, boolean };

/// Bytes per element.
constexpr std::size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::f64:
    case DType::i64:
      return 8;
    case DType::boolean:
      return 1;
  }
  return 8;  // unreachable: the switch names every dtype
}

constexpr bool is_floating(DType dtype) {
  return dtype == DType::f32 || dtype == DType::f64;
}

/// The floating dtype factories default to, and the one integers become when
/// they meet a floating-point scalar or a true division (torch.get_default_dtype()).
inline constexpr DType default_float_dtype = DType::f32;

/// The kind of number a dtype holds, in PyTorch's promotion order: a kind
/// never converts into a lower one implicitly.
enum class DTypeKind : std::uint8_t { boolean, integral, floating };

constexpr DTypeKind kind(DType dtype) {
  if (is_floating(dtype)) return DTypeKind::floating;
  return dtype == DType::i64 ? DTypeKind::integral : DTypeKind::boolean;
}

/// The smallest dtype that holds values of both a and b, as torch.promote_types:
/// boolean < i64 < f32 < f64.
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (kind(a) != kind(b)) return kind(a) > kind(b) ? a : b;
  return DType::f64;  // f32 with f64: the two dtypes of one kind
}

/// Whether a result computed in `from` may be written into a tensor of dtype
/// `to` (an in-place op's destination), as torch.can_cast: not into a lower
/// kind (floating into integer or boolean, integer into boolean).
constexpr bool can_cast(DType from, DType to) {
  return kind(from) <= kind(to);
}

/// "f32", "f64", "i64" or "bool".
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
template <>
constexpr DType dtype_of<bool>() {
  return DType::boolean;
}

}  // namespace tether
