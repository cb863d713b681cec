#include "tether/projection.h"

#include <cmath>

#include "arguments.h"
#include "slice_norms.h"
#include "tether/capture.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether {

ProjectedParameter::ProjectedParameter(std::string name, Tensor tensor, Projection project)
    : name_(std::move(name)), tensor_(std::move(tensor)), project_(std::move(project)) {
  if (tensor_.is_floating_point() && !tensor_.requires_grad()) tensor_.requires_grad_();
  projected_version_ = tensor_.version() + 1;  // forces the first projection
  project_if_changed();
}

void ProjectedParameter::project_if_changed() {
  // In a capture, project whatever the version says, so that the projection
  // is recorded and replays project after each optimizer step, as eager
  // steps do (projections are idempotent: once more changes nothing).
  const bool record = is_capturing() && projected_capture_ != capture_id();
  if (tensor_.version() == projected_version_ && !record) return;
  NoGradGuard no_grad;
  project_(tensor_);
  projected_version_ = tensor_.version();
  projected_capture_ = capture_id();
}

Tensor ProjectedParameter::value() {
  project_if_changed();
  return tensor_;
}

NamedTensors ProjectedParameter::trainables() {
  project_if_changed();
  return {{"", tensor_}};
}

std::shared_ptr<ProjectedParameter> project(const std::shared_ptr<Parameter>& parameter,
                                            std::string name,
                                            ProjectedParameter::Projection projection) {
  const auto* plain = dynamic_cast<const RawParameter*>(parameter.get());
  Tensor tensor = plain ? plain->tensor() : parameter->value().detach().clone();
  return std::make_shared<ProjectedParameter>(std::move(name), std::move(tensor),
                                              std::move(projection));
}

std::shared_ptr<ProjectedParameter> project_non_negative(
    const std::shared_ptr<Parameter>& parameter) {
  return project(parameter, "non_negative", [](Tensor& t) { t.copy_(relu(t)); });
}

std::shared_ptr<ProjectedParameter> project_clamp(const std::shared_ptr<Parameter>& parameter,
                                                  double min, double max) {
  // An infinite bound leaves its side open; a NaN one would make every value NaN.
  if (std::isnan(min) || std::isnan(max))
    fail<ValueError>("project_clamp: expected bounds that are not NaN, got ", min, " and ", max);
  return project(parameter, "clamp", [min, max](Tensor& t) { t.copy_(clamp(t, min, max)); });
}

std::shared_ptr<ProjectedParameter> project_max_norm(const std::shared_ptr<Parameter>& parameter,
                                                     double max_norm, std::int64_t dim) {
  detail::check_positive("project_max_norm", "max_norm", max_norm);
  return project(parameter, "max_norm", [max_norm, dim](Tensor& t) {
    const Tensor norms = detail::slice_norms("project", t, dim);
    t.mul_(max_norm / clamp(norms, max_norm, std::nullopt));
  });
}

std::shared_ptr<ProjectedParameter> project_unit_norm(const std::shared_ptr<Parameter>& parameter,
                                                      std::int64_t dim) {
  return project(parameter, "unit_norm", [dim](Tensor& t) {
    t.mul_(reciprocal(clamp(detail::slice_norms("project", t, dim), 1e-12, std::nullopt)));
  });
}

}  // namespace tether
