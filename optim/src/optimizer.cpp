#include "tether/optim/optimizer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/manifold.h"
#include "tether/ops.h"

namespace tether::optim {

namespace detail {

std::string to_text(double value) {
  std::array<char, 32> text;  // the shortest text that reads back exactly: at most 24 characters
  return {text.data(), std::to_chars(text.data(), text.data() + text.size(), value).ptr};
}

std::string to_text(std::int64_t value) {
  return std::to_string(value);
}

std::string to_text(bool value) {
  return value ? "true" : "false";
}

const std::string& MetadataReader::text(const std::string& key) {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) fail<ValueError>(owner_, ": key \"", key, "\" is missing");
  read_.insert(key);
  return it->second;
}

void MetadataReader::bad(const std::string& key, const std::string& expected) const {
  fail<ValueError>(owner_, ": key \"", key, "\" is \"", metadata_.at(key), "\", expected ",
                   expected);
}

/// `text` as a T when all of it is one, as from_chars reads it (no spaces, no '+').
template <class T>
std::optional<T> parse_all(const std::string& text) {
  T value{};
  const char* const end = text.data() + text.size();
  const auto [parsed_end, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || parsed_end != end) return std::nullopt;
  return value;
}

double MetadataReader::number(const std::string& key, bool infinite_too) {
  const auto value = parse_all<double>(text(key));
  if (!value || std::isnan(*value) || (!infinite_too && std::isinf(*value)))
    bad(key, infinite_too ? "a number" : "a finite number");
  return *value;
}

double MetadataReader::non_negative(const std::string& key) {
  const double value = number(key);
  if (value < 0) bad(key, "a number >= 0");
  return value;
}

std::int64_t MetadataReader::count(const std::string& key) {
  const auto value = parse_all<std::int64_t>(text(key));
  if (!value || *value < 0) bad(key, "an integer >= 0");
  return *value;
}

std::vector<double> MetadataReader::list(const std::string& key, std::size_t size) {
  std::vector<double> values(size);
  for (std::size_t i = 0; i < size; ++i) values[i] = non_negative(key + "." + std::to_string(i));
  return values;
}

bool MetadataReader::flag(const std::string& key) {
  const std::string& value = text(key);
  if (value != "true" && value != "false") bad(key, "true or false");
  return value == "true";
}

void MetadataReader::finish(const std::string& hint) const {
  for (const auto& [key, value] : metadata_)
    if (!read_.count(key)) fail<ValueError>(owner_, ": unexpected key \"", key, "\"", hint);
}

void write_option(Metadata& text, const std::string& prefix, double value, const char* key) {
  text[prefix + key] = to_text(value);
}

void write_option(Metadata& text, const std::string& prefix, bool value, const char* key) {
  text[prefix + key] = to_text(value);
}

void write_option(Metadata& text, const std::string& prefix, const std::pair<double, double>& value,
                  const char* first, const char* second) {
  write_option(text, prefix, value.first, first);
  write_option(text, prefix, value.second, second);
}

void read_option(MetadataReader& reader, const std::string& prefix, double& value,
                 const char* key) {
  value = reader.number(prefix + key);
}

void read_option(MetadataReader& reader, const std::string& prefix, bool& value, const char* key) {
  value = reader.flag(prefix + key);
}

void read_option(MetadataReader& reader, const std::string& prefix,
                 std::pair<double, double>& value, const char* first, const char* second) {
  read_option(reader, prefix, value.first, first);
  read_option(reader, prefix, value.second, second);
}

void check_betas(const std::string& optimizer, const std::pair<double, double>& betas) {
  const auto [beta1, beta2] = betas;
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1))
    fail<ValueError>(optimizer, ": betas must lie in [0, 1), got (", beta1, ", ", beta2, ")");
}

const char* option_label(const char* key) {
  const std::string_view name = key;
  if (name == "lr") return "learning rate";
  if (name == "weight_decay") return "weight decay";
  return key;
}

}  // namespace detail

Tensor& ParameterState::buffer(const std::string& name, const Tensor& parameter, double initial) {
  const auto [it, created] = buffers.try_emplace(name);
  if (created) it->second = full_like(parameter, initial);
  return it->second;
}

Optimizer::Optimizer(std::string name, std::vector<Tensor> parameters,
                     std::vector<std::string> buffer_names, bool riemannian)
    : state_(parameters.size()),
      name_(std::move(name)),
      parameters_(std::move(parameters)),
      buffer_names_(std::move(buffer_names)) {
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    if (!p.defined() || !p.is_leaf() || !p.requires_grad())
      fail<ValueError>(name_, ": parameter ", i, " is not a leaf tensor that requires grad");
    if (const auto manifold = manifold_of(p); manifold && !riemannian)
      fail<ValueError>(name_, ": parameter ", i, " is the point of a ", manifold->name(),
                       " parameter, which a Euclidean step would take off its manifold; use "
                       "optim::RiemannianSGD or optim::RiemannianAdam (tether/optim/riemannian.h)");
    for (std::size_t j = 0; j < i; ++j)
      if (parameters_[j].is_same(p))
        fail<ValueError>(name_, ": parameter ", i, " is parameter ", j,
                         " again; each may appear in one group only");
  }
}

void Optimizer::check_non_negative(const char* what, double value) const {
  // Written so that nan fails too: every comparison with it is false.
  if (!(value >= 0 && value < std::numeric_limits<double>::infinity()))
    fail<ValueError>(name_, ": ", what, " must be a finite number >= 0, got ", value);
}

void Optimizer::check_finite(const char* what, double value) const {
  if (!std::isfinite(value))
    fail<ValueError>(name_, ": ", what, " must be a finite number, got ", value);
}

void Optimizer::check_group(std::size_t group, std::size_t count) const {
  if (group >= count)
    fail<IndexError>(name_, ": parameter group ", group, " does not exist (", count,
                     count == 1 ? " group)" : " groups)");
}

void Optimizer::zero_grad() {
  host_action([this] {
    for (auto& p : parameters_) p.set_grad(Tensor());
  });
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
  state_ = loaded_state(dict);
}

std::vector<ParameterState> Optimizer::loaded_state(const StateDict& dict) const {
  const auto fail_key = [&](const std::string& key, const auto&... problem) {
    fail<ValueError>(name_, ".load_state_dict: key \"", key, "\" ", problem...);
  };
  // Built aside and swapped in by the caller, so a bad key leaves the state as it was.
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
  return loaded;
}

SGD::SGD(std::vector<Tensor> parameters, SGDOptions options)
    : SGD({{std::move(parameters), options}}) {}

SGD::SGD(std::vector<Group> groups)
    : GroupedOptimizer("SGD", std::move(groups), {"momentum_buffer"}) {
  check_all_options();
}

void SGD::check_options(const SGDOptions& options) const {
  check_non_negative("learning rate", options.lr);
  check_non_negative("momentum", options.momentum);
  check_non_negative("weight decay", options.weight_decay);
  check_finite("dampening", options.dampening);
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
    fail<ValueError>("SGD: Nesterov momentum needs momentum > 0 and zero dampening, got momentum ",
                     options.momentum, " and dampening ", options.dampening);
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
