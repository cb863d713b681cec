// Spectral normalisation: W / sigma(W), sigma estimated by power iteration;
// and sigmaReparam, gamma * W / sigma(W), built on it.
#include <string>
#include <utility>
#include <vector>

#include "arguments.h"
#include "tether/backend/backend.h"
#include "tether/backend/host_linalg.h"
#include "tether/constraint_library.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/node.h"
#include "tether/ops.h"

namespace tether {

namespace constraints {

namespace {

/// How the kernels of Backend::spectral_norm see a weight normalised along
/// `dim`: as the rank-3 view [P, m, Q] of the contiguous weight, the dims
/// before and after `dim` merged into P and Q. That is the matrix [m, P * Q]
/// that torch's spectral norm takes (the weight permuted to (dim, the others
/// in order) and reshaped to rows), read in place whatever the dim.
class BlockLayout {
 public:
  BlockLayout(const Shape& shape, int dim) : shape_(shape) {
    for (int d = 0; d < shape_.size(); ++d)
      (d < dim ? before_ : d > dim ? after_ : rows_) *= shape_[d];
  }

  /// `t` (of the weight's shape) as the kernels' raw [P, m, Q] view.
  Tensor view(const Tensor& t) const {
    if (t.is_contiguous()) return blocks(t);
    NoGradGuard no_grad;
    return blocks(t.contiguous());
  }
  /// A new contiguous tensor of the weight's shape for a kernel to write.
  Tensor empty(const Tensor& like) const {
    return Tensor::empty(shape_, like.dtype(), like.device(), "spectral_norm");
  }
  /// A contiguous tensor of the weight's shape as the kernels' raw [P, m, Q] view.
  Tensor blocks(const Tensor& weight) const {
    return Tensor::view_of(weight, {before_, rows_, after_}, {rows_ * after_, after_, 1},
                           weight.storage_offset());
  }
  /// u v^T in the weight's shape: sigma = sum(W * u v^T).
  Tensor outer(const Tensor& u, const Tensor& v) const {
    return reshape(reshape(u, {1, rows_, 1}) * reshape(v, {before_, 1, after_}), shape_);
  }

 private:
  Shape shape_;
  std::int64_t before_ = 1, rows_ = 1, after_ = 1;
};

/// The gradient of weight / max(sigma, eps) with sigma = u^T W v and u, v
/// held constant, in differentiable ops: with create_graph, sigma is
/// recomputed from the weight so that the graph of the gradient sees its
/// dependence on the weight, as the graph of the composed ops would.
Tensor composed_gradient(const Tensor& grad, const Tensor& weight, const Tensor& u, const Tensor& v,
                         const BlockLayout& layout, double eps) {
  const Tensor uv = layout.outer(u, v);
  const Tensor sigma = sum(weight * uv);
  const Tensor s = clamp(sigma, eps, std::nullopt);
  return grad / s - sum(grad * weight) / (s * s) * (sigma >= eps) * uv;
}

class SpectralNorm final : public Constraint {
 public:
  SpectralNorm(const Tensor& weight, std::int64_t dim, int steps, double eps)
      : dim_(weight.dim() == 0 ? 0 : wrap_dim("spectral_norm", dim, weight.dim())),
        steps_(steps),
        eps_(eps) {
    if (weight.dim() < 1)
      fail<ShapeError>("spectral_norm: expected a weight with at least one dimension, got ",
                       weight.shape());
    if (steps < 0)
      fail<ValueError>("spectral_norm: power_iteration_steps must be >= 0, got ", steps);
    detail::check_positive("spectral_norm", "eps", eps);
    NoGradGuard no_grad;
    const Tensor matrix = as_matrix(weight.detach());
    const TensorOptions options = weight.options();
    u_ = normalize(randn({matrix.size(0)}, options), 0, eps_);
    v_ = normalize(randn({matrix.size(1)}, options), 0, eps_);
    normalized(weight.detach(), 15);  // for u and v near the top singular vectors
  }

  std::string name() const override { return "spectral_norm"; }
  std::string condition() const override { return "weights whose largest singular value is 1"; }

  Tensor forward(const std::vector<Tensor>& raw) override {
    return normalized(detail::single_raw_input(name(), raw), is_training() ? steps_ : 0);
  }

  bool has_right_inverse() const override { return true; }
  /// The value becomes the raw weight and u, v its exact top singular vectors
  /// (from an SVD), so forward reproduces a value of largest singular value 1
  /// and divides any other by its own.
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    // The value in f64 (exactly) on the buffers' device, whatever its dtype and
    // device: the vectors are then rounded once, into the buffers.
    const Tensor matrix = as_matrix(value).to(u_.device()).to(DType::f64);
    const auto [u, v] = backend::host::top_singular_vectors(matrix);
    u_.copy_(u);
    v_.copy_(v);
    return {value};
  }
  NamedTensors buffers() override { return {{"u", u_}, {"v", v_}}; }

  /// The weight as torch's matrix: permuted to (dim_, the other dims in
  /// order), then reshaped to rows.
  Tensor as_matrix(const Tensor& weight) const {
    Dims order{dim_};
    for (std::int64_t d = 0; d < weight.dim(); ++d)
      if (d != dim_) order.push_back(d);
    return reshape(permute(weight, order), {weight.size(dim_), -1});
  }

  double estimate(const Tensor& weight) const {
    NoGradGuard no_grad;
    return dot(u_, mv(as_matrix(weight.detach()), v_)).item<double>();
  }

 private:
  /// weight / max(sigma, eps), sigma = u^T W v, recorded as one node, after
  /// `steps` power iterations that update u_ and v_ in place (one backend
  /// call). The node keeps the iteration's results, which nothing else refers
  /// to, so later updates of the buffers leave its graph intact. Its gradient
  /// holds u and v constant, as torch's spectral_norm does. (sigma is ||W v||
  /// after an iteration, so >= 0; max(sigma, eps), as normalize does, keeps a
  /// zero weight zero instead of 0 / 0.)
  Tensor normalized(const Tensor& weight, int steps) {
    check_matches_buffers(weight);
    const BlockLayout layout(weight.shape(), dim_);
    // u, v and sigma share one allocation: [u..., v..., sigma].
    const std::int64_t m = u_.numel(), n = v_.numel();
    const Tensor vectors =
        Tensor::empty({m + n + 1}, weight.dtype(), weight.device(), "spectral_norm");
    const Tensor u = Tensor::view_of(vectors, {m}, {1}, 0),
                 v = Tensor::view_of(vectors, {n}, {1}, m),
                 sigma = Tensor::view_of(vectors, {}, {}, m + n), out = layout.empty(weight);
    backend::backend_for(weight.device())
        .spectral_norm(layout.view(weight), u_, v_, steps, eps_, u, v, sigma, layout.blocks(out));
    for (int i = 0; i < steps; ++i) {
      u_.storage()->bump_version();
      v_.storage()->bump_version();
    }
    return autograd::record(
        "spectral_norm", {weight}, out, {weight, u, v, sigma},
        [layout, eps = eps_](autograd::Node& node, const Tensor& grad) -> autograd::GradList {
          const Tensor w = node.saved(0), u = node.saved(1), v = node.saved(2);
          if (is_grad_enabled()) return {composed_gradient(grad, w, u, v, layout, eps)};
          const Tensor grad_w = layout.empty(w);
          backend::backend_for(w.device())
              .spectral_norm_backward(layout.view(grad), layout.view(w), u, v, node.saved(3), eps,
                                      layout.blocks(grad_w));
          return {grad_w};
        });
  }

  /// The weight must be the matrix u_ and v_ were made for, in their dtype
  /// and on their device (Parameter::to converts them together).
  void check_matches_buffers(const Tensor& weight) const {
    if (weight.dim() <= dim_ || weight.size(dim_) != u_.numel() ||
        weight.numel() != u_.numel() * v_.numel())
      fail<ShapeError>("spectral_norm: expected a weight of ", u_.numel(), " x ", v_.numel(),
                       " elements along dim ", dim_, " (the shape u and v were made for), got ",
                       weight.shape());
    if (weight.dtype() != u_.dtype())
      fail<DTypeError>("spectral_norm: the weight is ", weight.dtype(), " but u and v are ",
                       u_.dtype(), "; convert the parameter with to(), which moves both");
    if (weight.device() != u_.device())
      fail<DeviceError>("spectral_norm: the weight is on ", weight.device(), " but u and v are on ",
                        u_.device(), "; move the parameter with to(), which moves both");
  }

  int dim_;
  int steps_;
  double eps_;
  Tensor u_, v_;
};

/// gamma * spectral_norm(W): the spectrally normalised weight with a learned
/// scale. Its u, v and power iteration are the inner spectral norm's.
class SigmaReparam final : public Constraint {
 public:
  SigmaReparam(const Tensor& weight, int steps, double eps) : spectral_(weight, 0, steps, eps) {}

  std::string name() const override { return "sigma_reparam"; }
  std::string condition() const override { return "finite weights"; }
  std::vector<std::string> input_names() const override { return {"raw", "gamma"}; }

  Tensor forward(const std::vector<Tensor>& raw) override {
    return raw[1] * spectral_.forward({raw[0]});
  }

  bool has_right_inverse() const override { return true; }
  /// raw = value and gamma = its largest singular value, with u and v its
  /// exact singular vectors, so that forward reproduces the value.
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    std::vector<Tensor> raw = spectral_.right_inverse(value);
    raw.push_back(full({}, spectral_.estimate(value), value.options()));
    return raw;
  }
  /// Every finite weight is gamma * W / sigma(W) for W = itself.
  Tensor project(const Tensor& value) override { return value; }
  NamedTensors buffers() override { return spectral_.buffers(); }
  void train(bool on) override {
    Constraint::train(on);
    spectral_.train(on);
  }

  SpectralNorm& spectral() { return spectral_; }

 private:
  SpectralNorm spectral_;
};

}  // namespace

std::shared_ptr<Constraint> sigma_reparam(const Tensor& weight, int power_iteration_steps,
                                          double eps) {
  return std::make_shared<SigmaReparam>(weight, power_iteration_steps, eps);
}

std::shared_ptr<Constraint> spectral_norm(const Tensor& weight, std::int64_t dim,
                                          int power_iteration_steps, double eps) {
  return std::make_shared<SpectralNorm>(weight, dim, power_iteration_steps, eps);
}

}  // namespace constraints

std::shared_ptr<ComputedParameter> spectrally_normalize(const std::shared_ptr<Parameter>& parameter,
                                                        std::int64_t dim, int power_iteration_steps,
                                                        double eps) {
  NoGradGuard no_grad;
  // The weight is the raw input whether or not its largest singular value is
  // 1, so as_raw, which skips right_inverse's SVD, gives the same parameter.
  return constrain(parameter,
                   constraints::spectral_norm(parameter->value(), dim, power_iteration_steps, eps),
                   ValuePolicy::as_raw);
}

std::shared_ptr<ComputedParameter> sigma_reparameterize(const std::shared_ptr<Parameter>& parameter,
                                                        int power_iteration_steps, double eps) {
  const auto* plain = dynamic_cast<const RawParameter*>(parameter.get());
  if (!plain)
    fail<ValueError>("sigma_reparameterize: expected a raw parameter, got a computed or projected ",
                     "one (its constraint would be dropped); freeze() it first");
  NoGradGuard no_grad;
  // The leaf stays the raw weight, so an optimizer built earlier keeps training it.
  const Tensor weight = plain->tensor();
  auto result = std::make_shared<ComputedParameter>(
      constraints::sigma_reparam(weight, power_iteration_steps, eps),
      std::vector<Tensor>{weight, ones({}, weight.options())});
  result->train(parameter->is_training());
  return result;
}

double largest_singular_value(const Tensor& matrix) {
  if (matrix.dim() != 2)
    fail<ShapeError>("largest_singular_value: expected a matrix, got ", matrix.shape());
  const std::vector<double> values = backend::host::singular_values(matrix);
  if (values.empty())
    fail<ShapeError>("largest_singular_value: expected a matrix with elements, got ",
                     matrix.shape());
  return values.front();
}

SpectralNormCheck check_spectral_norm(ComputedParameter& parameter) {
  auto* sn = dynamic_cast<constraints::SpectralNorm*>(&parameter.constraint());
  if (auto* reparam = dynamic_cast<constraints::SigmaReparam*>(&parameter.constraint()))
    sn = &reparam->spectral();
  if (!sn)
    fail<ValueError>("check_spectral_norm: the parameter is computed by ",
                     parameter.constraint().name(), ", not spectral_norm or sigma_reparam");
  const Tensor weight = parameter.raw_inputs()[0];
  return {sn->estimate(weight), largest_singular_value(sn->as_matrix(weight.detach()))};
}

}  // namespace tether
