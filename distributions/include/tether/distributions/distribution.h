// The Distribution interface of tether::distributions, as torch.distributions':
// a batch of distributions (batch_shape) over events (event_shape), with a
// log density differentiable in the value and in every parameter.
//
//   using namespace tether::distributions;
//   Normal prior(0.0, 5.0);
//   Tensor lp = prior.log_prob(mu);           // d lp / d mu flows back
//   Tensor draws = prior.rsample({1000});     // [1000], differentiable in loc and scale
//
// Parameters are tensors or numbers (Param) and broadcast against each other
// to the batch shape, as torch.distributions' broadcast_all; numbers take the
// dtype of the tensor parameters (default_float_dtype when all are numbers).
// Samples are sample_shape + batch_shape + event_shape and come from the
// global generator (tether::manual_seed).
//
// Validation is on by default, as in PyTorch: an invalid parameter (a scale
// <= 0, a NaN, probs outside [0, 1], ...) is a ValueError from the
// constructor, a value outside the support a ValueError from log_prob and
// cdf, each naming the distribution and the argument. Switch it off for every
// distribution made afterwards with set_default_validate_args(false), or for
// one with its constructor's validate_args; log_prob outside the support is
// then -inf (or whatever the formula gives, as in PyTorch).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tether/constraint.h"
#include "tether/ops.h"

namespace tether::distributions {

/// Whether distributions made from now on validate (default true), as
/// torch.distributions.Distribution.set_default_validate_args.
void set_default_validate_args(bool validate);
bool default_validate_args();

/// A parameter: a floating-point tensor or a number.
class Param {
 public:
  Param(Tensor tensor);  // NOLINT(google-explicit-constructor): Normal(loc, 1.0) reads best
  Param(double number);  // NOLINT(google-explicit-constructor)
  const Tensor& tensor() const { return tensor_; }
  std::optional<double> number() const { return number_; }

 private:
  Tensor tensor_;
  std::optional<double> number_;
};

class Distribution {
 public:
  virtual ~Distribution() = default;

  /// "Normal", "Categorical", ...: the name in error messages.
  const std::string& name() const { return name_; }
  const Shape& batch_shape() const { return batch_shape_; }
  const Shape& event_shape() const { return event_shape_; }
  bool validates() const { return validate_; }

  /// The log density (or log mass) of value, shape broadcast(value's batch
  /// part, batch_shape): value is [..., event_shape]. With validation, a value
  /// outside the support is a ValueError.
  virtual Tensor log_prob(const Tensor& value) const = 0;
  /// A sample of shape sample_shape + batch_shape + event_shape, outside the graph.
  virtual Tensor sample(const Shape& sample_shape = {}) const;
  /// Whether rsample exists: a sample that is a differentiable function of
  /// the parameters (the reparametrisation trick).
  virtual bool has_rsample() const { return false; }
  /// A reparametrised sample (throws ValueError where has_rsample() is false).
  virtual Tensor rsample(const Shape& sample_shape = {}) const;

  /// Of shape batch_shape + event_shape. Undefined moments are NaN or
  /// infinity, as in PyTorch (the Cauchy's mean is NaN).
  virtual Tensor mean() const = 0;
  virtual Tensor variance() const = 0;
  virtual Tensor stddev() const { return sqrt(variance()); }
  /// Of shape batch_shape; a ValueError where there is no closed form.
  virtual Tensor entropy() const;
  /// P(X <= value) and its inverse, where cheap; a ValueError elsewhere.
  virtual Tensor cdf(const Tensor& value) const;
  virtual Tensor icdf(const Tensor& probability) const;

  /// The support as a constraint of the library (constraints::positive(),
  /// bounded(lo, hi)), for mapping an unconstrained value onto it; nullptr
  /// for the real line (nothing to map) and for discrete supports.
  virtual std::shared_ptr<Constraint> support() const { return nullptr; }

  /// The same distribution with `convert` applied to each parameter tensor
  /// (another dtype or device), validated as at construction: how a prior
  /// follows its parameter through Parameter::to and Module::to.
  virtual std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const = 0;

 protected:
  Distribution(std::string name, std::optional<bool> validate_args);
  /// Set by the constructor once the parameters are broadcast (both empty until then).
  void set_shapes(const Shape& batch_shape, const Shape& event_shape = {});

  /// sample_shape + batch_shape + event_shape.
  Shape extended_shape(const Shape& sample_shape) const;
  /// The parameters broadcast to one shape (numbers become tensors of the
  /// tensors' dtype); a ShapeError naming the distribution if they do not broadcast.
  static std::vector<Tensor> broadcast_all(const std::string& name,
                                           const std::vector<Param>& params);
  /// With validation: a ValueError naming the distribution, `argument`,
  /// `expected` and the first element of `values` where `ok` (a bool mask of
  /// its shape or broadcastable to it) is false.
  void require(const char* argument, const Tensor& values, const Tensor& ok,
               const char* expected) const;
  /// require() for the common cases: values > 0, and values that are not NaN.
  void require_positive(const char* argument, const Tensor& values) const;
  void require_real(const char* argument, const Tensor& values) const;
  /// With validation: `value` is in the support (support_mask), else a
  /// ValueError naming `method` ("log_prob", "cdf") and the support.
  void check_value(const char* method, const Tensor& value) const;
  /// True where value lies in the support (a bool mask, one entry per event).
  virtual Tensor support_mask(const Tensor& value) const = 0;
  /// The support in words, for errors: "real numbers", "values >= 0".
  virtual std::string support_description() const = 0;
  /// The machine epsilon of like's dtype (f32 unless f64).
  static double epsilon_of(const Tensor& like);
  /// A ValueError: `what` is not available for this distribution.
  [[noreturn]] void unavailable(const char* what) const;

 private:
  std::string name_;
  Shape batch_shape_;
  Shape event_shape_;
  bool validate_;
};

}  // namespace tether::distributions
