// The projection family: constraints enforced by projecting the trainable
// tensor back onto the feasible set after it changes, as Keras does.
//
// A ProjectedParameter projects lazily: value() projects the tensor in place
// (outside the graph) whenever its version counter moved since the last
// projection. An optimizer's in-place step bumps that counter, so the next
// forward sees the projected tensor, and no optimizer knows the constraint
// exists.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "tether/parameter.h"

namespace tether {

class ProjectedParameter final : public Parameter {
 public:
  /// Writes the projection of its argument into it (called under NoGradGuard).
  using Projection = std::function<void(Tensor&)>;

  /// Takes `tensor` as the trainable leaf and projects it once.
  ProjectedParameter(std::string name, Tensor tensor, Projection project);

  Tensor value() override;
  /// Projects first, so optimizers and checkpoints see a feasible tensor.
  NamedTensors trainables() override;
  const std::string& name() const { return name_; }

 private:
  /// Converted data may have left the feasible set by rounding: project again.
  void data_replaced() override { projected_version_ = tensor_.version() + 1; }
  void project_if_changed();

  std::string name_;
  Tensor tensor_;
  Projection project_;
  std::uint64_t projected_version_ = 0;
  std::uint64_t projected_capture_ = 0;  // the capture it last projected in (capture.h)
};

/// A projected parameter over `parameter`'s tensor (its leaf when raw).
std::shared_ptr<ProjectedParameter> project(const std::shared_ptr<Parameter>& parameter,
                                            std::string name,
                                            ProjectedParameter::Projection projection);
/// Elements below zero are set to zero.
std::shared_ptr<ProjectedParameter> project_non_negative(
    const std::shared_ptr<Parameter>& parameter);
/// Elements are clamped to [min, max] (an infinite bound leaves its side
/// open); throws ValueError for a NaN bound.
std::shared_ptr<ProjectedParameter> project_clamp(const std::shared_ptr<Parameter>& parameter,
                                                  double min, double max);
/// Each slice along `dim` (each row of a Linear weight for dim 0) whose L2 norm
/// exceeds max_norm is rescaled to max_norm. Throws ValueError unless
/// max_norm is finite and positive.
std::shared_ptr<ProjectedParameter> project_max_norm(const std::shared_ptr<Parameter>& parameter,
                                                     double max_norm, std::int64_t dim = 0);
/// Each slice along `dim` is rescaled to unit L2 norm.
std::shared_ptr<ProjectedParameter> project_unit_norm(const std::shared_ptr<Parameter>& parameter,
                                                      std::int64_t dim = 0);

}  // namespace tether
