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
#include <string>
#include <utility>
#include <vector>

#include "tether/tensor.h"

namespace tether {

/// Tensors with names relative to their owner ("raw", "u", ...).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

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

 protected:
  /// Called by to() after it replaced tensors' data: drop what was derived
  /// from the old data.
  virtual void data_replaced() {}

  bool training_ = true;

 private:
  void replace_data(const std::function<Tensor(const Tensor&)>& convert);
};

/// One trainable leaf tensor.
class RawParameter final : public Parameter {
 public:
  /// Takes `tensor` as the leaf (marking it requires_grad if floating-point).
  explicit RawParameter(Tensor tensor);

  Tensor value() override { return tensor_; }
  NamedTensors trainables() override { return {{"", tensor_}}; }
  const Tensor& tensor() const { return tensor_; }

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
