// The retraction family: constraints kept by the optimizer itself, which steps
// along the feasible set instead of through the ambient space, as geoopt and
// geotorch do in Python.
//
// A ManifoldParameter's trainable leaf is the constrained matrix itself (no
// raw input, nothing computed in the forward). A Riemannian optimizer
// (optim::RiemannianSGD, optim::RiemannianAdam in tether/optim/riemannian.h)
// recognises its leaf, projects the gradient onto the tangent space and moves
// the leaf by a retraction, so it stays on the manifold. Plain optimizers
// refuse such a leaf: their step would leave the manifold.
//
//   lstm->weight_hh = tether::stiefel(lstm->weight_hh);  // orthonormal columns
//   optim::RiemannianAdam adam(lstm->parameters(), {.lr = 1e-2});
//
// Beside the other two families: a ComputedParameter reparametrises (orthogonal()
// maps raw inputs through matrix_exp in every forward), a ProjectedParameter
// projects after any change; a ManifoldParameter costs nothing in the forward
// and a retraction per step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tether/parameter.h"

namespace tether {

/// A manifold embedded in a space of tensors, with the Euclidean metric: what
/// a Riemannian optimizer needs to step along it. Points and tangent vectors
/// are tensors of one shape; nothing here records a graph.
class Manifold {
 public:
  virtual ~Manifold() = default;

  /// The name errors start with ("stiefel").
  virtual std::string name() const = 0;
  /// Throws ShapeError naming the manifold unless its points can have `shape`.
  virtual void check_shape(const Shape& shape) const = 0;
  /// The nearest point on the manifold to `x` (Frobenius norm).
  virtual Tensor nearest(const Tensor& x) const = 0;
  /// How far `x` is from satisfying the manifold's equations (max-abs of
  /// their residual); 0 on the manifold.
  virtual double violation(const Tensor& x) const = 0;
  /// The projection of an ambient vector `u` onto the tangent space at the
  /// point `x`: the Riemannian gradient of a Euclidean gradient u, and the
  /// vector transport of u to x.
  virtual Tensor project_tangent(const Tensor& x, const Tensor& u) const = 0;
  /// A retraction R_x(u): a point on the manifold reached from `x` along `u`,
  /// agreeing with x + u to first order. Only u's tangent part counts.
  virtual Tensor retract(const Tensor& x, const Tensor& u) const = 0;
};

/// The Stiefel manifold of [n, p] matrices with orthonormal columns
/// (W^T W = I, p <= n); a wide matrix (p > n) has orthonormal rows instead
/// (W W^T = I), as torch's orthogonal parametrization. Tangent vectors at W:
/// W^T U skew-symmetric; the projection is U - W sym(W^T U). The retraction is
/// the Cayley transform (Wen and Yin, 2013).
class Stiefel final : public Manifold {
 public:
  std::string name() const override { return "stiefel"; }
  /// Throws ShapeError unless `shape` is a matrix [n, p].
  void check_shape(const Shape& shape) const override;
  /// The polar factor U V^T of x's thin SVD (host, f64).
  Tensor nearest(const Tensor& x) const override;
  /// max |W^T W - I| (W W^T for a wide matrix).
  double violation(const Tensor& x) const override;
  Tensor project_tangent(const Tensor& x, const Tensor& u) const override;
  Tensor retract(const Tensor& x, const Tensor& u) const override;
};

/// A trainable leaf that lies on a manifold and is moved along it by a
/// Riemannian optimizer. value() is the leaf itself. Whenever the leaf's
/// version moved, value() checks that it is still on the manifold (to a
/// relative sqrt(epsilon) of its dtype), so a write that left it (an
/// in-place edit, a loaded state that is not a point) is a ValueError naming
/// the manifold rather than a silently unconstrained weight. A retraction's
/// result is on the manifold by construction: the optimizer marks it
/// (mark_retracted) and value() does not check it again.
class ManifoldParameter final : public Parameter {
 public:
  /// Takes `point` as the leaf (marking it requires_grad); it must already be
  /// on the manifold (stiefel() projects first). While this parameter lives,
  /// manifold_of(point) returns `manifold`; a tensor can be the leaf of one
  /// ManifoldParameter at a time (ValueError otherwise).
  ManifoldParameter(Tensor point, std::shared_ptr<const Manifold> manifold);
  ~ManifoldParameter() override;
  ManifoldParameter(const ManifoldParameter&) = delete;
  ManifoldParameter& operator=(const ManifoldParameter&) = delete;

  Tensor value() override;
  NamedTensors trainables() override { return {{"", point_}}; }
  const Manifold& manifold() const { return *manifold_; }
  /// How many times value() has checked the point (for tests and diagnostics).
  std::uint64_t checks() const { return checks_; }

 private:
  friend void mark_retracted(const Tensor& leaf, std::uint64_t version_before);

  Tensor point_;
  std::shared_ptr<const Manifold> manifold_;
  std::uint64_t checked_version_;
  std::uint64_t checks_ = 0;
};

/// A Stiefel parameter in place of `parameter`, starting from the nearest
/// point to its current value (the polar factor). A raw parameter's leaf is
/// kept (projected in place), so the slot's tensor keeps its identity; other
/// parameters give a new leaf. Throws ShapeError "stiefel: ..." unless the
/// value is a matrix, ValueError if it is already a manifold parameter.
std::shared_ptr<ManifoldParameter> stiefel(const std::shared_ptr<Parameter>& parameter);

/// The manifold whose ManifoldParameter holds `leaf` as its point, or null for
/// any other tensor: how optimizers tell a manifold leaf from a Euclidean one.
std::shared_ptr<const Manifold> manifold_of(const Tensor& leaf);

/// Tells the manifold parameter whose point is `leaf` that the leaf's current
/// data is its manifold's retraction of the data it had at `version_before`,
/// so value() skips the check, provided that data had been checked: a
/// retraction keeps a point on the manifold, but does not bring back one that
/// a write after the last check took off it. For Riemannian optimizers, right
/// after they write the retraction; any other tensor is ignored.
void mark_retracted(const Tensor& leaf, std::uint64_t version_before);

}  // namespace tether
