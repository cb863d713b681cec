#include "tether/dtype.h"

namespace tether {

std::string_view name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::i64:
      return "i64";
    case DType::boolean:
      return "bool";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, DType dtype) {
  return os << name(dtype);
}

}  // namespace tether
