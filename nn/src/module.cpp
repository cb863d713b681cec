#include "tether/nn/module.h"

#include <map>
#include <set>

#include "tether/constraint.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/nn/checkpoint.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  if (name.empty()) return prefix;
  return prefix.empty() ? name : prefix + "." + name;
}

/// `what` and the keys, quoted: "missing key \"a\"", "missing keys \"a\", \"b\"".
std::string describe(const char* what, const std::vector<std::string>& keys) {
  std::string text = what + std::string(keys.size() == 1 ? " key " : " keys ");
  for (std::size_t i = 0; i < keys.size(); ++i) text += (i ? ", \"" : "\"") + keys[i] + "\"";
  return text;
}

/// What torch.nn.utils.parametrize names "parametrizations.weight" for the
/// slot "fc.weight": "fc.parametrizations.weight".
std::string parametrized(const std::string& slot) {
  const std::size_t dot = slot.rfind('.');
  if (dot == std::string::npos) return "parametrizations." + slot;
  return slot.substr(0, dot) + ".parametrizations." + slot.substr(dot + 1);
}

}  // namespace

void Module::register_parameter(std::string name, std::shared_ptr<Parameter>& slot,
                                Tensor initial) {
  slot = make_parameter(std::move(initial));
  slots_.emplace_back(std::move(name), &slot);
}

void Module::register_buffer(std::string name, Tensor& slot) {
  buffers_.emplace_back(std::move(name), &slot);
}

std::vector<std::pair<std::string, std::shared_ptr<Parameter>>> Module::named_slots() {
  std::vector<std::pair<std::string, std::shared_ptr<Parameter>>> all;
  for (auto& [name, slot] : slots_)
    if (*slot) all.emplace_back(name, *slot);
  for (auto& [child_name, child] : children_)
    for (auto& [name, parameter] : child->named_slots())
      all.emplace_back(join(child_name, name), parameter);
  return all;
}

NamedTensors Module::named_parameters() {
  // A tensor tied between slots is listed once, under its first name, so that
  // an optimizer steps it once.
  NamedTensors all;
  std::set<const TensorImpl*> seen;
  for (auto& [slot_name, parameter] : named_slots())
    for (auto& [name, tensor] : parameter->trainables())
      if (seen.insert(tensor.impl()).second) all.emplace_back(join(slot_name, name), tensor);
  return all;
}

std::vector<Tensor> Module::parameters() {
  std::vector<Tensor> all;
  for (auto& [name, tensor] : named_parameters()) all.push_back(tensor);
  return all;
}

Tensor Module::log_prior(bool include_jacobian) {
  Tensor total;
  std::set<const Parameter*> seen;
  for (auto& [slot, parameter] : named_slots()) {
    if (!parameter->prior() || !seen.insert(parameter.get()).second) continue;
    try {
      const Tensor term = parameter->log_prior(include_jacobian);
      total = total.defined() ? total + term : term;
    } catch (const ValueError& error) {
      fail<ValueError>("log_prior: slot \"", slot, "\": ", error.what());
    }
  }
  return total.defined() ? total : zeros({});
}

std::vector<Module::PytorchNames> Module::pytorch_names() {
  std::vector<PytorchNames> names;
  for (auto& [slot, parameter] : named_slots()) {
    const auto* computed = dynamic_cast<const ComputedParameter*>(parameter.get());
    if (!computed) continue;
    const std::string prefix = parametrized(slot);
    const std::string constraint = computed->constraint_ptr()->name();
    // The hooks torch.nn.utils.spectral_norm and weight_norm kept their tensors
    // beside the weight: "weight_orig", "weight_u", "weight_v"; "weight_g", "weight_v".
    const bool hooked = constraint == "spectral_norm" || constraint == "weight_norm";
    const auto hook = [&, &slot = slot](const std::string& name) {
      return hooked ? slot + "_" + (name == "raw" ? "orig" : name) : "";
    };
    const NamedTensors inputs = parameter->trainables();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const std::string& name = inputs[i].first;
      names.push_back({join(slot, name),
                       prefix + ".original" + (inputs.size() == 1 ? "" : std::to_string(i)),
                       hook(name)});
    }
    // Parametrization 0's buffers; torch's _SpectralNorm keeps its vectors as _u and _v.
    const std::string underscore = constraint == "spectral_norm" ? "_" : "";
    for (const auto& [name, buffer] : parameter->buffers())
      names.push_back({join(slot, name), prefix + ".0." + underscore + name, hook(name)});
  }
  return names;
}

StateDict Module::state_dict(Naming naming) {
  StateDict state;
  for (auto& [slot_name, parameter] : named_slots()) {  // tied slots keep both names
    for (auto& [name, tensor] : parameter->trainables())
      state[join(slot_name, name)] = tensor.detach();
    for (auto& [name, buffer] : parameter->buffers())
      state[join(slot_name, name)] = buffer.detach();
  }
  for (auto& [name, buffer] : buffers_) state[name] = buffer->detach();
  for (auto& [child_name, child] : children_)
    for (auto& [name, tensor] : child->state_dict()) state[join(child_name, name)] = tensor;
  if (naming == Naming::pytorch)
    for (const PytorchNames& names : pytorch_names()) {
      auto node = state.extract(names.tether);
      node.key() = names.parametrize;
      state.insert(std::move(node));
    }
  return state;
}

IncompatibleKeys Module::load_state_dict(const StateDict& given, bool strict) {
  // PyTorch's names become tether's (parametrize's before the old hooks'),
  // unless the tether name is there too;
  // errors name the key as the caller gave it.
  StateDict state = given;
  std::map<std::string, std::string> given_names;
  for (const PytorchNames& names : pytorch_names())
    for (const std::string& alias : {names.parametrize, names.hook}) {
      if (alias.empty() || state.count(names.tether)) continue;
      auto node = state.extract(alias);
      if (!node) continue;
      node.key() = names.tether;
      state.insert(std::move(node));
      given_names[names.tether] = "\"" + alias + "\" (tether's \"" + names.tether + "\")";
    }
  const auto name = [&given_names](const std::string& key) {
    const auto it = given_names.find(key);
    return it == given_names.end() ? "\"" + key + "\"" : it->second;
  };
  const StateDict own = state_dict();
  IncompatibleKeys unmatched;
  for (const auto& [key, target] : own) {
    const auto it = state.find(key);
    if (it == state.end()) {
      unmatched.missing_keys.push_back(key);
      continue;
    }
    const Tensor& source = it->second;
    if (!source.defined())
      fail<ValueError>("load_state_dict: key ", name(key), " holds an undefined tensor");
    if (!(source.shape() == target.shape()))
      fail<ShapeError>("load_state_dict: key ", name(key), " has shape ", source.shape(),
                       ", the module expects ", target.shape());
    if (source.dtype() != target.dtype() &&
        !(source.is_floating_point() && target.is_floating_point()))
      fail<ValueError>("load_state_dict: key ", name(key), " has dtype ", source.dtype(),
                       ", the module expects ", target.dtype());
  }
  for (const auto& [key, tensor] : state)
    if (!own.count(key)) unmatched.unexpected_keys.push_back(key);
  const bool missing = !unmatched.missing_keys.empty();
  const bool unexpected = !unmatched.unexpected_keys.empty();
  if (strict && (missing || unexpected))
    fail<ValueError>(
        "load_state_dict: ", missing ? describe("missing", unmatched.missing_keys) : "",
        missing && unexpected ? " and " : "",
        unexpected ? describe("unexpected", unmatched.unexpected_keys) : "",
        " (strict=false loads the keys that match)");
  NoGradGuard no_grad;
  for (const auto& [key, target] : own) {
    const auto it = state.find(key);
    if (it == state.end()) continue;
    Tensor destination = target;
    destination.copy_(it->second);  // bumps versions, so computed parameters recompute
  }
  return unmatched;
}

void Module::save(const std::string& path, const SaveOptions& options) {
  save_safetensors(path, state_dict(options.naming), {}, {.floats = options.floats});
}

IncompatibleKeys Module::load(const std::string& path, const LoadOptions& options) {
  return load_state_dict(load_safetensors(path, {.half = options.half}), options.strict);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, slot] : slots_)
    if (*slot) (*slot)->train(on);
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& tensor : parameters()) tensor.set_grad(Tensor());
}

void Module::to(DType dtype) {
  convert([dtype](Parameter& parameter) { parameter.to(dtype); },
          [dtype](const Tensor& t) { return t.is_floating_point() ? t.to(dtype) : t; });
}

void Module::to(Device device) {
  convert([device](Parameter& parameter) { parameter.to(device); },
          [device](const Tensor& t) { return t.to(device); });
}

void Module::convert(const std::function<void(Parameter&)>& convert_slot,
                     const std::function<Tensor(const Tensor&)>& convert_buffer) {
  NoGradGuard no_grad;
  for (auto& [name, slot] : slots_)
    if (*slot) convert_slot(**slot);  // a slot tied to another one is already converted: a no-op
  for (auto& [name, buffer] : buffers_) {
    if (!buffer->defined()) continue;
    // The buffer's own TensorImpl takes the new data, so handles to it stay valid.
    const Tensor data = convert_buffer(buffer->detach());
    if (data.storage() != buffer->storage()) adopt_data(*buffer, data);
  }
  for (auto& [name, child] : children_) child->convert(convert_slot, convert_buffer);
}

}  // namespace tether::nn
