// allclose, composed of comparisons in f64 on the operands' device; only the
// verdict comes back to the host.
#include <cmath>

#include "op_util.h"
#include "tether/grad_mode.h"

namespace tether {

using namespace ops;

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  check_same_dtype("allclose", a, b);
  check_same_device("allclose", a, b);
  broadcast_shapes("allclose", a.shape(), b.shape());
  NoGradGuard no_grad;
  const Tensor x = a.detach().to(DType::f64), y = b.detach().to(DType::f64);
  // Comparisons give 1/0 masks; f64 masks combine with maximum (or) and
  // product (and). As in torch.isclose, equal values (infinities included) are
  // close, others only when their difference is finite and within tolerance.
  const auto mask = [](const Tensor& t) { return t.to(DType::f64); };
  const Tensor error = abs(x - y);
  Tensor close =
      maximum(mask(eq(x, y)), mask(error <= abs(y) * rtol + atol) * mask(error < INFINITY));
  if (equal_nan) close = maximum(close, mask(ne(x, x)) * mask(ne(y, y)));
  return close.numel() == 0 || amin(close).item<double>() == 1;
}

}  // namespace tether
