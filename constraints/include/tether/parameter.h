// Parameters: what a layer asks for its weights.
//
// A layer holds `std::shared_ptr<Parameter>` slots and calls value() in
// forward. Whether the weight is a plain trainable tensor (RawParameter) or is
// computed from trainable tensors by a constraint (ComputedParameter: spectral
// norm, positivity, orthogonality, ...) is invisible to the layer. Replacing a
// slot is the whole user-facing API:
//
//   linear->weight = tether::spectrally_normalize(linear->weight);
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tether/tensor.h"

namespace tether {

/// Tensors with names relative to their owner ("raw", "u", ...).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// A conversion of a tensor to another dtype or device (Parameter::to's).
using TensorConversion = std::function<Tensor(const Tensor&)>;

/// A prior over a parameter's value: a log density of the value, whose entries
/// are summed (one per element or per event, as the density likes). The
/// constraints layer knows no distributions; tether::distributions::prior(d)
/// makes one from a distribution's log_prob.
struct Prior {
  std::string name;  ///< shown in errors: "HalfNormal"
  std::function<Tensor(const Tensor& value)> log_density;
  /// The same prior with its own tensors (a distribution's parameters)
  /// converted, for a parameter that Parameter::to moves to another dtype or
  /// device. Empty for a prior without tensors: it is kept as it is.
  std::function<Prior(const TensorConversion& convert)> converted = {};
};

class Parameter {
 public:
  virtual ~Parameter() = default;

  /// The tensor a layer computes with.
  virtual Tensor value() = 0;
  /// The trainable leaves this parameter owns, by name ("" for a raw parameter's
  /// only tensor). Optimizers update these in place.
  virtual NamedTensors trainables() = 0;
  /// Non-trainable state saved with the model (spectral norm's u and v).
  virtual NamedTensors buffers() { return {}; }
  /// Training (true) or evaluation mode; strategies may behave differently.
  virtual void train(bool on) { training_ = on; }
  bool is_training() const { return training_; }

  /// Converts the floating-point trainables and buffers to `dtype` in place,
  /// as torch's Module.to does: each tensor keeps its identity (an optimizer
  /// or module holding it sees the new data), leaves stay leaves that require
  /// grad, their gradients are dropped, and a cached value is recomputed.
  /// Build optimizers after converting: their state (momentum) is not moved.
  void to(DType dtype);
  /// Moves the trainables and buffers to `device` in place, like to(DType)
  /// (throws DeviceError for a device this build cannot use).
  void to(Device device);

  /// Puts a prior over value() (replacing any earlier one). A prior is code,
  /// not state: state dicts neither save nor load it. It moves with the
  /// parameter: to() converts it (Prior::converted), and constrain() and
  /// freeze() give it to the parameter they make. Throws ValueError when
  /// `prior` has no log_density.
  void set_prior(Prior prior);
  void clear_prior() { prior_.reset(); }
  const std::optional<Prior>& prior() const { return prior_; }
  /// The prior's log density of value(), summed to a 0-d tensor recorded so
  /// that gradients reach the trainables. With include_jacobian, plus
  /// log_abs_det_jacobian(): the log density of the trainables themselves
  /// (what HMC and ADVI explore); without, the log density of the value (whose
  /// mode is the MAP value). Throws ValueError when there is no prior, when
  /// include_jacobian meets a parameter without a Jacobian, and as the prior's
  /// log_density throws (a distribution's validation of its support).
  Tensor log_prior(bool include_jacobian = true);
  /// log |det d value / d trainables| summed to a 0-d tensor: 0 for a raw
  /// parameter, the constraint's for a computed one (ValueError when it is not
  /// a bijection). The default, for parameters whose trainables are not
  /// unconstrained (a projection or retraction keeps them on their set), throws
  /// ValueError.
  virtual Tensor log_abs_det_jacobian();

 protected:
  /// Called by to() after it replaced tensors' data: drop what was derived
  /// from the old data.
  virtual void data_replaced() {}

  bool training_ = true;

 private:
  std::optional<Prior> prior_;

  void replace_data(const TensorConversion& convert);
};

/// One trainable leaf tensor.
class RawParameter final : public Parameter {
 public:
  /// Takes `tensor` as the leaf (marking it requires_grad if floating-point).
  explicit RawParameter(Tensor tensor);

  Tensor value() override { return tensor_; }
  NamedTensors trainables() override { return {{"", tensor_}}; }
  const Tensor& tensor() const { return tensor_; }
  /// A raw parameter is its own trainable: 0.
  Tensor log_abs_det_jacobian() override;

 private:
  Tensor tensor_;
};

/// Points `tensor`'s TensorImpl at `data`'s storage, layout and dtype, so every
/// handle to `tensor` sees the new data; its gradient no longer matches and
/// goes. How Parameter::to and Module::to convert tensors in place.
void adopt_data(const Tensor& tensor, const Tensor& data);

/// A new RawParameter slot holding `tensor`.
std::shared_ptr<Parameter> make_parameter(Tensor tensor);

}  // namespace tether
