#include "tether/manifold.h"

#include <mutex>
#include <unordered_map>

#include "feasibility.h"
#include "tether/backend/host_linalg.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether {

namespace {

/// Which tensors are manifold leaves, and whose. Keyed by TensorImpl, which
/// keeps its identity through Parameter::to; each entry lives as long as its parameter.
struct Registry {
  struct Entry {
    std::shared_ptr<const Manifold> manifold;
    ManifoldParameter* owner;
  };
  std::mutex mutex;
  std::unordered_map<const TensorImpl*, Entry> manifolds;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

/// A wide matrix is handled through its transpose: its rows are the columns
/// that must be orthonormal, so the work below sees tall or square matrices.
Tensor as_tall(const Tensor& x) {
  return x.size(0) < x.size(1) ? x.mT() : x;
}

/// `tall` back in the orientation of `like`.
Tensor as_oriented(const Tensor& tall, const Tensor& like) {
  return like.size(0) < like.size(1) ? tall.mT() : tall;
}

/// sym(M) = (M + M^T) / 2.
Tensor symmetric_part(const Tensor& m) {
  return (m + m.mT()) * 0.5;
}

}  // namespace

void Stiefel::check_shape(const Shape& shape) const {
  if (shape.size() != 2 || shape.numel() == 0)
    fail<ShapeError>("stiefel: expected a matrix [n, p] with n, p >= 1, got ", shape);
}

Tensor Stiefel::nearest(const Tensor& x) const {
  return as_oriented(backend::host::polar_factor(as_tall(x)), x);
}

double Stiefel::violation(const Tensor& x) const {
  // In f64, so that the check measures the point and not the rounding of W^T W.
  const Tensor w = as_tall(x).to(DType::f64);
  const Tensor gram = matmul(w.mT(), w);
  return amax(abs(gram - eye(gram.size(0), std::nullopt, gram.options()))).item<double>();
}

Tensor Stiefel::project_tangent(const Tensor& x, const Tensor& u) const {
  const Tensor w = as_tall(x), v = as_tall(u);
  return as_oriented(v - matmul(w, symmetric_part(matmul(w.mT(), v))), x);
}

Tensor Stiefel::retract(const Tensor& x, const Tensor& u) const {
  // The Cayley transform of Wen and Yin, "A feasible method for optimization
  // with orthogonality constraints" (Math. Program., 2013), eq. (7) and (8):
  // A = P U X^T - X U^T P with P = I - X X^T / 2 is skew-symmetric, A X is U's
  // tangent part, and Y = (I - A/2)^{-1} (I + A/2) X is orthonormal exactly
  // when X is. Rather than a general solve: (I - A/2)^T (I - A/2) = I - A^2/4
  // is symmetric positive definite for a skew A, and every factor here is a
  // function of A, so they commute and Y = (I - A^2/4)^{-1} (I + A/2)^2 X is
  // one Cholesky solve. This costs O(n^3); their low-rank form (a 2p x 2p
  // system) would pay for tall matrices with n >> p.
  const Tensor w = as_tall(x), v = as_tall(u);
  const std::int64_t n = w.size(0);
  const Tensor pu = v - matmul(w, matmul(w.mT(), v)) * 0.5;
  const Tensor a = matmul(pu, w.mT()) - matmul(w, pu.mT());
  const Tensor half_step = w + matmul(a, w) * 0.5;
  const Tensor numerator = half_step + matmul(a, half_step) * 0.5;
  const Tensor gram = eye(n, std::nullopt, w.options()) + matmul(a.mT(), a) * 0.25;
  Tensor y = cholesky_solve(numerator, cholesky(gram));
  // The Cayley transform keeps Y^T Y = X^T X, rounding errors included, so in
  // f32 they would add up over thousands of steps. One Newton-Schulz step
  // towards the polar factor, Y (3I - Y^T Y) / 2, squares them away and is
  // the identity on the manifold, so Y stays a retraction.
  y = y * 1.5 - matmul(y, matmul(y.mT(), y)) * 0.5;
  return as_oriented(y, x);
}

ManifoldParameter::ManifoldParameter(Tensor point, std::shared_ptr<const Manifold> manifold)
    : point_(std::move(point)), manifold_(std::move(manifold)) {
  manifold_->check_shape(point_.shape());
  if (point_.is_floating_point() && !point_.requires_grad()) point_.requires_grad_();
  checked_version_ = point_.version() + 1;  // checks the first value()
  Registry& shared = registry();
  const std::lock_guard lock(shared.mutex);
  if (!shared.manifolds.try_emplace(point_.impl(), Registry::Entry{manifold_, this}).second)
    fail<ValueError>(manifold_->name(),
                     ": the tensor is already the point of a manifold parameter; each tensor can "
                     "be the leaf of one at a time");
}

ManifoldParameter::~ManifoldParameter() {
  Registry& shared = registry();
  const std::lock_guard lock(shared.mutex);
  shared.manifolds.erase(point_.impl());
}

Tensor ManifoldParameter::value() {
  if (point_.version() != checked_version_) {
    ++checks_;
    NoGradGuard no_grad;
    const double violation = manifold_->violation(point_);
    const double tolerance = detail::feasibility_tolerance(point_.dtype());
    if (!(violation <= tolerance))
      fail<ValueError>(manifold_->name(), ": the point ", point_.shape(),
                       " left the manifold (violation ", violation, " > ", tolerance,
                       "): it was changed by something other than a Riemannian optimizer's "
                       "retraction (an in-place write, a loaded value that is not on it)");
    checked_version_ = point_.version();
  }
  return point_;
}

std::shared_ptr<ManifoldParameter> stiefel(const std::shared_ptr<Parameter>& parameter) {
  if (dynamic_cast<const ManifoldParameter*>(parameter.get()))
    fail<ValueError>("stiefel: the parameter is already a manifold parameter");
  auto manifold = std::make_shared<Stiefel>();
  NoGradGuard no_grad;
  const auto* plain = dynamic_cast<const RawParameter*>(parameter.get());
  Tensor point = plain ? plain->tensor() : parameter->value().detach().clone();
  manifold->check_shape(point.shape());
  point.copy_(manifold->nearest(point));
  return std::make_shared<ManifoldParameter>(std::move(point), std::move(manifold));
}

std::shared_ptr<const Manifold> manifold_of(const Tensor& leaf) {
  if (!leaf.defined()) return nullptr;
  Registry& shared = registry();
  const std::lock_guard lock(shared.mutex);
  const auto it = shared.manifolds.find(leaf.impl());
  return it == shared.manifolds.end() ? nullptr : it->second.manifold;
}

void mark_retracted(const Tensor& leaf, std::uint64_t version_before) {
  Registry& shared = registry();
  const std::lock_guard lock(shared.mutex);
  const auto it = shared.manifolds.find(leaf.impl());
  if (it == shared.manifolds.end()) return;
  ManifoldParameter& owner = *it->second.owner;
  if (owner.checked_version_ == version_before) owner.checked_version_ = leaf.version();
}

}  // namespace tether
