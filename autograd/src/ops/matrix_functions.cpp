// Matrix functions. They are composed from differentiable ops (matmul, add,
// scaling), so their backward, and every higher derivative, is the chain rule
// through those ops: no formula of its own to get wrong.
#include <array>
#include <cmath>

#include "op_util.h"
#include "tether/grad_mode.h"

namespace tether {

using namespace ops;

namespace {

/// The Taylor polynomial's degree, and the block size of its evaluation. Once
/// ||X||_1 <= 1/2 the first omitted term is below 0.5^17 / 17! ~ 2e-20, far
/// under f64 round-off; blocks of sqrt(16) = 4 need the fewest products.
constexpr int kDegree = 16;
constexpr int kBlock = 4;

/// The largest 1-norm (maximum absolute column sum) in a batch of matrices.
/// It only chooses the scaling, so it is computed outside the graph.
double max_one_norm(const Tensor& a) {
  if (a.numel() == 0) return 0.0;
  NoGradGuard no_grad;
  return amax(sum(abs(a.detach()), {-2})).item<double>();
}

/// The number of squarings s that brings the norm to 1/2: ||A / 2^s||_1 <= 1/2.
/// None for a non-finite norm, whose result is not finite anyway.
int squarings(double norm) {
  if (!std::isfinite(norm) || norm <= 0.5) return 0;
  return static_cast<int>(std::ceil(std::log2(2.0 * norm)));
}

/// sum_{i <= 16} X^i / i!, by Paterson and Stockmeyer: with P = X^4 and blocks
/// B_j = sum_{i < 4} X^i / (4j + i)!, it is B_0 + P (B_1 + P (B_2 + P (B_3 + P / 16!))),
/// which takes 6 matrix products where Horner's rule takes 16.
Tensor taylor_exp(const Tensor& x) {
  std::array<double, kDegree + 1> coefficient{1.0};
  for (int i = 1; i <= kDegree; ++i) coefficient[i] = coefficient[i - 1] / i;
  std::array<Tensor, kBlock + 1> power;  // I, X, ..., X^4
  power[0] = eye(x.size(-1), std::nullopt, x.options());
  power[1] = x;
  for (int i = 2; i <= kBlock; ++i) power[i] = matmul(power[i - 1], x);

  Tensor result = power[kBlock] * coefficient[kDegree];
  for (int block = kDegree / kBlock - 1; block >= 0; --block) {
    for (int i = 0; i < kBlock; ++i) result = result + power[i] * coefficient[kBlock * block + i];
    if (block > 0) result = matmul(power[kBlock], result);
  }
  return result;
}

}  // namespace

// Scaling and squaring: exp(A) = exp(A / 2^s)^(2^s), with s chosen so that the
// Taylor series of exp(A / 2^s) converges fast. Dividing by a power of two is
// exact, so the scaling adds no rounding.
Tensor matrix_exp(const Tensor& a) {
  check_floating("matrix_exp", a);
  if (a.dim() < 2 || a.size(-1) != a.size(-2))
    fail<ShapeError>("matrix_exp: expected a square matrix or a batch of them [..., n, n], got ",
                     a.shape());
  const int s = squarings(max_one_norm(a));
  Tensor result = taylor_exp(s == 0 ? a : a * std::ldexp(1.0, -s));
  for (int i = 0; i < s; ++i) result = matmul(result, result);
  return result;
}

}  // namespace tether
