// Spectral normalisation: W / sigma(W), sigma estimated by power iteration;
// and sigmaReparam, gamma * W / sigma(W), built on it.
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "arguments.h"
#include "tether/backend/host_linalg.h"
#include "tether/constraint_library.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether {

namespace constraints {

namespace {

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
    power_iteration(matrix, 15);
  }

  std::string name() const override { return "spectral_norm"; }
  std::string condition() const override { return "weights whose largest singular value is 1"; }

  Tensor forward(const std::vector<Tensor>& raw) override {
    const Tensor& weight = detail::single_raw_input(name(), raw);
    const Tensor matrix = as_matrix(weight);
    // The graph keeps u and v for backward, so it must not see later in-place
    // updates of the buffers: it gets the power iteration's fresh results, or copies.
    Tensor u, v;
    if (is_training() && steps_ > 0) {
      NoGradGuard no_grad;
      std::tie(u, v) = power_iteration(matrix.detach(), steps_);
    } else {
      u = u_.clone();
      v = v_.clone();
    }
    // sigma = u . W v is ||W v|| after a power iteration, so >= 0; max(sigma,
    // eps), as normalize does, keeps a zero weight zero instead of 0 / 0.
    return weight / clamp(dot(u, mv(matrix, v)), eps_, std::nullopt);
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

  /// The weight as a matrix with dim_ first.
  Tensor as_matrix(const Tensor& weight) const {
    Tensor moved = dim_ == 0 ? weight : transpose(weight, 0, dim_);
    return reshape(moved, {moved.size(0), -1});
  }

  double estimate(const Tensor& weight) const {
    NoGradGuard no_grad;
    return dot(u_, mv(as_matrix(weight.detach()), v_)).item<double>();
  }

 private:
  /// Updates the buffers in place; returns the last iterates, which nothing
  /// else refers to.
  std::pair<Tensor, Tensor> power_iteration(const Tensor& matrix, int steps) {
    Tensor u, v;
    for (int i = 0; i < steps; ++i) {
      v = normalize(mv(matrix.t(), u_), 0, eps_);
      v_.copy_(v);
      u = normalize(mv(matrix, v_), 0, eps_);
      u_.copy_(u);
    }
    return {u, v};
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
