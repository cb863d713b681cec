#include "tether/optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <system_error>

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::optim {

Tensor& ParameterState::buffer(const std::string& name, const Tensor& parameter, double initial) {
  const auto [it, created] = buffers.try_emplace(name);
  if (created) it->second = full_like(parameter, initial);
  return it->second;
}

Optimizer::Optimizer(std::string name, std::vector<Tensor> parameters,
                     std::vector<std::string> buffer_names)
    : state_(parameters.size()),
      name_(std::move(name)),
      parameters_(std::move(parameters)),
      buffer_names_(std::move(buffer_names)) {
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    if (!p.defined() || !p.is_leaf() || !p.requires_grad())
      fail<ValueError>(name_, ": parameter ", i, " is not a leaf tensor that requires grad");
    for (std::size_t j = 0; j < i; ++j)
      if (parameters_[j].is_same(p))
        fail<ValueError>(name_, ": parameter ", i, " is parameter ", j,
                         " again; each may appear in one group only");
  }
}

void Optimizer::check_non_negative(const char* what, double value) const {
  if (!(value >= 0)) fail<ValueError>(name_, ": ", what, " must be >= 0, got ", value);
}

void Optimizer::zero_grad() {
  for (auto& p : parameters_) p.set_grad(Tensor());
}

StateDict Optimizer::state_dict() const {
  StateDict dict;
  for (std::size_t i = 0; i < state_.size(); ++i) {
    const ParameterState& state = state_[i];
    if (state.step == 0 && state.buffers.empty()) continue;
    const std::string prefix = std::to_string(i) + ".";
    dict[prefix + "step"] = scalar_tensor(static_cast<double>(state.step), DType::i64);
    for (const auto& [name, buffer] : state.buffers) dict[prefix + name] = buffer;
  }
  return dict;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  const auto fail_key = [&](const std::string& key, const auto&... problem) {
    fail<ValueError>(name_, ".load_state_dict: key \"", key, "\" ", problem...);
  };
  // Built aside and swapped in at the end, so a bad key leaves the state as it was.
  std::vector<ParameterState> loaded(parameters_.size());
  NoGradGuard no_grad;
  for (const auto& [key, tensor] : dict) {
    const std::size_t dot = key.find('.');
    std::size_t index = 0;
    const char* const index_end = key.data() + std::min(dot, key.size());
    const auto [parsed_end, error] = std::from_chars(key.data(), index_end, index);
    if (dot == std::string::npos || error != std::errc() || parsed_end != index_end)
      fail_key(key, "is not \"<parameter index>.<name>\"");
    if (index >= parameters_.size())
      fail_key(key, "names parameter ", index, ", the optimizer has ", parameters_.size());
    const std::string name = key.substr(dot + 1);
    const Tensor& parameter = parameters_[index];
    if (name == "step") {
      if (tensor.dtype() != DType::i64 || tensor.numel() != 1)
        fail_key(key, "must be one i64 step count, got ", tensor.dtype(), " of shape ",
                 tensor.shape());
      loaded[index].step = tensor.item<std::int64_t>();
      if (loaded[index].step < 0) fail_key(key, "must be >= 0, got ", loaded[index].step);
      continue;
    }
    if (std::find(buffer_names_.begin(), buffer_names_.end(), name) == buffer_names_.end()) {
      std::string expected = "step";
      for (const std::string& known : buffer_names_) expected += ", " + known;
      fail_key(key, "is no state of ", name_, " (expected <index>.one of: ", expected, ")");
    }
    if (!(tensor.shape() == parameter.shape()))
      fail<ShapeError>(name_, ".load_state_dict: key \"", key, "\" has shape ", tensor.shape(),
                       ", parameter ", index, " has shape ", parameter.shape());
    if (!tensor.is_floating_point())
      fail_key(key, "has dtype ", tensor.dtype(), ", expected a floating-point dtype");
    loaded[index].buffer(name, parameter).copy_(tensor.to(parameter.device()));
  }
  state_ = std::move(loaded);
}

SGD::SGD(std::vector<Tensor> parameters, SGDOptions options)
    : SGD({{std::move(parameters), options}}) {}

SGD::SGD(std::vector<Group> groups)
    : GroupedOptimizer("SGD", std::move(groups), {"momentum_buffer"}) {
  for (const Group& group : param_groups()) {
    const SGDOptions& options = group.options;
    check_non_negative("learning rate", options.lr);
    check_non_negative("momentum", options.momentum);
    check_non_negative("weight decay", options.weight_decay);
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
      fail<ValueError>(
          "SGD: Nesterov momentum needs momentum > 0 and zero dampening, got momentum ",
          options.momentum, " and dampening ", options.dampening);
  }
}

void SGD::update(Tensor& p, Tensor grad, ParameterState& state, const SGDOptions& options) {
  if (options.weight_decay != 0) grad = grad + p * options.weight_decay;
  if (options.momentum != 0) {
    // The buffer starts as the first gradient itself, not as zeros, so
    // dampening does not shrink the first step.
    const auto [it, first] = state.buffers.try_emplace("momentum_buffer");
    Tensor& buffer = it->second;
    if (first)
      buffer = grad.clone();
    else
      buffer.mul_(options.momentum).add_(grad, 1 - options.dampening);
    grad = options.nesterov ? grad + buffer * options.momentum : buffer;
  }
  p.sub_(grad, options.lr);
}

}  // namespace tether::optim
