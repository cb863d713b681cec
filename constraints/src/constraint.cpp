#include "tether/constraint.h"

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/node.h"
#include "tether/ops.h"

namespace tether {

std::vector<Tensor> Constraint::right_inverse(const Tensor&) {
  fail<ValueError>(name(), ": this constraint has no right_inverse, so a value cannot be ",
                   "assigned to a parameter it computes");
}

namespace {

class LambdaConstraint final : public Constraint {
 public:
  LambdaConstraint(std::string name, std::function<Tensor(const Tensor&)> forward,
                   std::function<Tensor(const Tensor&)> inverse)
      : name_(std::move(name)), forward_(std::move(forward)), inverse_(std::move(inverse)) {}

  std::string name() const override { return name_; }
  Tensor forward(const std::vector<Tensor>& raw) override { return forward_(raw[0]); }
  bool has_right_inverse() const override { return static_cast<bool>(inverse_); }
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    if (!inverse_) return Constraint::right_inverse(value);
    return {inverse_(value)};
  }

 private:
  std::string name_;
  std::function<Tensor(const Tensor&)> forward_, inverse_;
};

class Chain final : public Constraint {
 public:
  Chain(std::shared_ptr<Constraint> first, std::shared_ptr<Constraint> second)
      : first_(std::move(first)), second_(std::move(second)) {
    if (second_->input_names().size() != 1)
      fail<ValueError>("chain: the second constraint (", second_->name(),
                       ") must take one input, it takes ", second_->input_names().size());
  }

  std::string name() const override { return first_->name() + "+" + second_->name(); }
  std::vector<std::string> input_names() const override { return first_->input_names(); }
  Tensor forward(const std::vector<Tensor>& raw) override {
    return second_->forward({first_->forward(raw)});
  }
  bool has_right_inverse() const override {
    return first_->has_right_inverse() && second_->has_right_inverse();
  }
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    return first_->right_inverse(second_->right_inverse(value).front());
  }
  NamedTensors buffers() override {
    NamedTensors all;
    for (auto& [name, t] : first_->buffers()) all.emplace_back("0." + name, t);
    for (auto& [name, t] : second_->buffers()) all.emplace_back("1." + name, t);
    return all;
  }
  void train(bool on) override {
    Constraint::train(on);
    first_->train(on);
    second_->train(on);
  }

 private:
  std::shared_ptr<Constraint> first_, second_;
};

}  // namespace

std::shared_ptr<Constraint> make_constraint(std::string name,
                                            std::function<Tensor(const Tensor&)> forward,
                                            std::function<Tensor(const Tensor&)> right_inverse) {
  return std::make_shared<LambdaConstraint>(std::move(name), std::move(forward),
                                            std::move(right_inverse));
}

std::shared_ptr<Constraint> chain(std::shared_ptr<Constraint> first,
                                  std::shared_ptr<Constraint> second) {
  return std::make_shared<Chain>(std::move(first), std::move(second));
}

ComputedParameter::ComputedParameter(std::shared_ptr<Constraint> constraint,
                                     std::vector<Tensor> raw_inputs)
    : constraint_(std::move(constraint)), raw_inputs_(std::move(raw_inputs)) {
  const auto names = constraint_->input_names();
  if (names.size() != raw_inputs_.size())
    fail<ValueError>(constraint_->name(), ": expected ", names.size(), " raw inputs, got ",
                     raw_inputs_.size());
  for (auto& raw : raw_inputs_)
    if (!raw.requires_grad()) raw.requires_grad_();
}

template <class Visit>
void ComputedParameter::for_each_version(Visit visit) {
  for (const auto& raw : raw_inputs_) visit(raw.version());
  for (const auto& [name, buffer] : constraint_->buffers()) visit(buffer.version());
}

bool ComputedParameter::value_was_written() const {
  if (!cached_.defined() || cached_.version() == value_version_) return false;
  // A value sharing a raw input's storage moves with that input, which is no write.
  for (const auto& raw : raw_inputs_)
    if (raw.storage() == cached_.storage()) return false;
  return true;
}

bool ComputedParameter::cache_is_valid() const {
  if (!cached_.defined() || recompute_every_use_) return false;
  return grad_mode_ == is_grad_enabled() && training_mode_ == is_training();
}

Tensor ComputedParameter::value() {
  if (value_was_written()) {
    // Someone wrote into the value we handed out: never lose that write.
    if (!constraint_->has_right_inverse())
      fail<ValueError>(constraint_->name(), ": the value of a computed parameter was modified in ",
                       "place, but the constraint has no right_inverse to carry the change to ",
                       "its raw inputs; assign through ComputedParameter::assign instead");
    assign(cached_.detach().clone());
  }
  if (cache_is_valid()) {
    std::size_t i = 0;
    bool unchanged = true;
    for_each_version([&](std::uint64_t v) { unchanged = unchanged && versions_[i++] == v; });
    if (unchanged) return cached_;
  }
  cached_ = constraint_->forward(raw_inputs_);
  // Every graph built on the cached value shares the constraint's graph: no
  // backward may free it while the cache hands the value out.
  if (!recompute_every_use_) autograd::retain_graph_of(cached_);
  ++recompute_count_;
  versions_.clear();  // recorded after forward: a power iteration moves buffers
  for_each_version([this](std::uint64_t v) { versions_.push_back(v); });
  value_version_ = cached_.version();
  grad_mode_ = is_grad_enabled();
  training_mode_ = is_training();
  return cached_;
}

NamedTensors ComputedParameter::trainables() {
  const auto names = constraint_->input_names();
  NamedTensors named;
  for (std::size_t i = 0; i < names.size(); ++i) named.emplace_back(names[i], raw_inputs_[i]);
  return named;
}

void ComputedParameter::train(bool on) {
  Parameter::train(on);
  constraint_->train(on);
}

void ComputedParameter::assign(const Tensor& value) {
  const std::vector<Tensor> raw = constraint_->right_inverse(value.detach());
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < raw_inputs_.size(); ++i) raw_inputs_[i].copy_(raw[i]);
  invalidate();
}

std::shared_ptr<ComputedParameter> constrain(const std::shared_ptr<Parameter>& parameter,
                                             std::shared_ptr<Constraint> constraint) {
  const Tensor current = parameter->value().detach();
  std::vector<Tensor> raw;
  if (constraint->has_right_inverse()) {
    NoGradGuard no_grad;
    raw = constraint->right_inverse(current);
  }
  const auto* plain = dynamic_cast<const RawParameter*>(parameter.get());
  if (raw.empty()) raw = {plain ? plain->tensor() : current.clone()};
  if (plain && raw.size() == 1 && !raw[0].is_same(plain->tensor()) &&
      raw[0].shape() == plain->tensor().shape()) {
    // Keep the leaf the caller's optimizer may already hold, with the new data.
    Tensor leaf = plain->tensor();
    NoGradGuard no_grad;
    leaf.copy_(raw[0]);
    raw[0] = leaf;
  }
  return std::make_shared<ComputedParameter>(std::move(constraint), std::move(raw));
}

std::shared_ptr<Parameter> freeze(const std::shared_ptr<Parameter>& parameter) {
  // No NoGradGuard: a cache computed in grad mode would be recomputed under it,
  // and in training mode that runs one more power iteration of spectral norm.
  return make_parameter(parameter->value().detach().clone());
}

}  // namespace tether
