// Errors: every user mistake is a tether::Error whose message names the op,
// what it expected and what it got.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace tether {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// Incompatible or invalid shapes.
class ShapeError : public Error {
 public:
  using Error::Error;
};
/// Wrong element type.
class DTypeError : public Error {
 public:
  using Error::Error;
};
/// Tensors on different devices, or a device that is not available.
class DeviceError : public Error {
 public:
  using Error::Error;
};
/// Dimension or element index out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};
/// Misuse of the autograd engine: freed graphs, stale saved tensors, in-place
/// writes to leaves that require grad.
class AutogradError : public Error {
 public:
  using Error::Error;
};
/// A request for more memory than the device can provide (as
/// torch.OutOfMemoryError): the message names the op, the shape and the bytes.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};
/// Any other invalid argument.
class ValueError : public Error {
 public:
  using Error::Error;
};
/// A matrix that does not have what a decomposition needs (cholesky of a
/// matrix that is not positive definite), as torch.linalg.LinAlgError.
class LinAlgError : public ValueError {
 public:
  using ValueError::ValueError;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

/// Throws E with the streamed concatenation of `parts`.
template <class E = Error, class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw E(detail::concat(parts...));
}

}  // namespace tether
