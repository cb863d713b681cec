#include "tether/constraint.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <sstream>

#include "arguments.h"
#include "feasibility.h"
#include "tether/capture.h"
#include "tether/grad_mode.h"
#include "tether/node.h"
#include "tether/ops.h"
#include "tether/projection.h"

namespace tether {

std::vector<Tensor> Constraint::right_inverse(const Tensor&) {
  fail<ValueError>(name(), ": this constraint has no right_inverse, so a value cannot be ",
                   "assigned to a parameter it computes");
}

Tensor Constraint::project(const Tensor&) {
  fail<ValueError>(name(), ": this constraint has no projection to the nearest feasible value");
}

Tensor Constraint::log_abs_det_jacobian(const std::vector<Tensor>&, const Tensor&) {
  fail<ValueError>(name(), ": not a bijection onto its values (", condition(),
                   "), so it has no log-det-Jacobian");
}

namespace detail {

double feasibility_tolerance(DType dtype) {
  return dtype == DType::f32 ? std::sqrt(std::numeric_limits<float>::epsilon())
                             : std::sqrt(std::numeric_limits<double>::epsilon());
}

namespace {

/// The index of flat element `flat` in a row-major tensor of `shape`: "[1, 0]".
std::string index_of(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> index(static_cast<std::size_t>(shape.size()));
  for (std::size_t d = index.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::ostringstream os;
  os << "[";
  for (std::size_t d = 0; d < index.size(); ++d) os << (d ? ", " : "") << index[d];
  os << "]";
  return os.str();
}

}  // namespace

std::string miss_report(const Constraint& constraint, const Tensor& value, const Tensor& reproduced,
                        const std::vector<Tensor>& raw) {
  const std::string prefix =
      constraint.name() + ": cannot hold the value (expected " + constraint.condition() + "): ";
  if (!(reproduced.shape() == value.shape()))
    return concat(prefix, "its forward gives shape ", reproduced.shape(), " for a value of shape ",
                  value.shape());
  const std::vector<double> wanted = value.to_vector<double>(),
                            got = reproduced.to_vector<double>();
  // A NaN misses by infinity, and so does an element whose raw input is not finite.
  const double worst_miss = std::numeric_limits<double>::infinity();
  std::vector<double> miss(wanted.size());
  double scale = 0;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const double difference = std::abs(got[i] - wanted[i]);
    miss[i] = std::isfinite(difference) ? difference : worst_miss;
    if (std::isfinite(wanted[i])) scale = std::max(scale, std::abs(wanted[i]));
  }
  const double tolerance = feasibility_tolerance(value.dtype()) * scale;
  // The non-finite raw value behind each element, where there is one.
  std::vector<std::optional<double>> bad_raw(wanted.size());
  const auto blame = [&](std::size_t i, double raw_value) {
    miss[i] = worst_miss;
    if (!bad_raw[i]) bad_raw[i] = raw_value;
  };
  for (const Tensor& input : raw) {
    const std::vector<double> values = input.to_vector<double>();
    if (input.shape() == value.shape()) {
      for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i])) blame(i, values[i]);
    } else if (!miss.empty()) {
      const auto first_bad =
          std::find_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); });
      if (first_bad != values.end()) blame(0, *first_bad);  // no element of its own: the first
    }
  }
  std::size_t worst = 0;
  for (std::size_t i = 1; i < miss.size(); ++i)
    if (miss[i] > miss[worst]) worst = i;
  if (miss.empty() || miss[worst] <= tolerance) return "";
  // Streams print a NaN as "nan" or "-nan" by its sign bit, which means nothing.
  const auto number = [](double x) { return std::isnan(x) ? std::string("nan") : concat(x); };
  const std::string element =
      concat(prefix, "element ", index_of(static_cast<std::int64_t>(worst), value.shape()), " is ",
             number(wanted[worst]));
  // A value on the domain's edge (0 for positive or simplex): the forward
  // reproduces it, but only from an infinite raw input, which training could
  // never move back.
  if (bad_raw[worst] && std::abs(got[worst] - wanted[worst]) <= tolerance)
    return concat(element, ", which needs a non-finite raw input (", number(*bad_raw[worst]), ")");
  return concat(element, ", which becomes ", number(got[worst]));
}

}  // namespace detail

namespace {

class LambdaConstraint final : public Constraint {
 public:
  LambdaConstraint(std::string name, ConstraintFunctions functions)
      : name_(std::move(name)), functions_(std::move(functions)) {
    if (!functions_.forward) fail<ValueError>(name_, ": make_constraint needs a forward function");
  }

  std::string name() const override { return name_; }
  std::string condition() const override { return functions_.condition; }
  Tensor forward(const std::vector<Tensor>& raw) override {
    return functions_.forward(detail::single_raw_input(name_, raw));
  }
  bool has_right_inverse() const override { return static_cast<bool>(functions_.right_inverse); }
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    if (!functions_.right_inverse) return Constraint::right_inverse(value);
    return {functions_.right_inverse(value)};
  }
  Tensor project(const Tensor& value) override {
    if (!functions_.project) return Constraint::project(value);
    return functions_.project(value);
  }
  bool is_bijection() const override { return static_cast<bool>(functions_.log_abs_det_jacobian); }
  std::int64_t event_dim() const override { return functions_.event_dim; }
  Tensor log_abs_det_jacobian(const std::vector<Tensor>& raw, const Tensor& value) override {
    if (!functions_.log_abs_det_jacobian) return Constraint::log_abs_det_jacobian(raw, value);
    return functions_.log_abs_det_jacobian(detail::single_raw_input(name_, raw), value);
  }

 private:
  std::string name_;
  ConstraintFunctions functions_;
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
  std::string condition() const override {
    return second_->condition() + " (of " + first_->name() + " values)";
  }
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
  bool is_bijection() const override { return first_->is_bijection() && second_->is_bijection(); }
  std::int64_t event_dim() const override {
    return std::max(first_->event_dim(), second_->event_dim());
  }
  /// log|J_first|(raw) + log|J_second|(first(raw)), each summed down to one
  /// entry per event of the chain. first's forward runs again for the
  /// intermediate value: only bijections get here, and none of them moves a
  /// buffer in its forward.
  Tensor log_abs_det_jacobian(const std::vector<Tensor>& raw, const Tensor& value) override {
    for (const Constraint* link : {first_.get(), second_.get()})
      if (!link->is_bijection())
        fail<ValueError>(name(), ": ", link->name(), " is not a bijection onto its values (",
                         link->condition(), "), so the chain has no log-det-Jacobian");
    const Tensor intermediate = first_->forward(raw);
    return per_event(first_->log_abs_det_jacobian(raw, intermediate), value) +
           per_event(second_->log_abs_det_jacobian({intermediate}, value), value);
  }
  NamedTensors buffers() override {
    NamedTensors all;
    for (auto& [name, t] : first_->buffers()) all.emplace_back("0." + name, t);
    for (auto& [name, t] : second_->buffers()) all.emplace_back("1." + name, t);
    return all;
  }
  void prepare(const std::vector<Tensor>& raw) override {
    first_->prepare(raw);
    // second's buffers may take their shape from what first gives (orthogonal's
    // base), and a state dict must hold them before the first value(): run
    // first once, in eval mode, so that it moves no buffer of its own.
    struct EvalMode {
      Constraint& constraint;
      bool was_training = constraint.is_training();
      ~EvalMode() { constraint.train(was_training); }
    } eval{*first_};
    first_->train(false);
    NoGradGuard no_grad;
    second_->prepare({first_->forward(raw)});
  }

  /// Why the chain missed `value`, when the reason is between its links: of
  /// the intermediate values second maps to `value`, its right_inverse picks
  /// one, which first may not give although another would (lower_triangular
  /// of symmetric matrices: it picks the lower triangle itself). "" otherwise.
  std::string missed_between_links(const Tensor& value) {
    const Tensor intermediate = second_->right_inverse(value).front();
    const std::vector<Tensor> raw = first_->right_inverse(intermediate);
    const std::string miss = detail::miss_report(*first_, intermediate, first_->forward(raw), raw);
    if (miss.empty()) return "";
    return " (" + second_->name() + "'s right_inverse picks an intermediate value, and " + miss +
           ")";
  }
  void train(bool on) override {
    Constraint::train(on);
    first_->train(on);
    second_->train(on);
  }

 private:
  /// A link's log-det-Jacobian summed over its trailing dims until it has
  /// one entry per event of the chain's `value` (torch's _sum_rightmost): a
  /// link with a smaller event_dim gives one entry per smaller event.
  Tensor per_event(const Tensor& link_terms, const Tensor& value) const {
    const std::int64_t batch_dims = value.dim() - event_dim();
    if (link_terms.dim() < batch_dims)
      fail<ShapeError>(name(), ": a link's log-det-Jacobian has shape ", link_terms.shape(),
                       ", fewer dims than the chain's batch of events (", batch_dims,
                       ") for a value of shape ", value.shape());
    Dims trailing;
    for (std::int64_t d = batch_dims; d < link_terms.dim(); ++d) trailing.push_back(d);
    return trailing.empty() ? link_terms : sum(link_terms, trailing);
  }

  std::shared_ptr<Constraint> first_, second_;
};

/// Rethrows `error` as its own tether::Error type (the first of Types it is),
/// its message prefixed with `context`.
template <class Type, class... Types>
[[noreturn]] void rethrow_with_context(const Error& error, const std::string& context) {
  if (dynamic_cast<const Type*>(&error)) fail<Type>(context, error.what());
  if constexpr (sizeof...(Types) > 0) rethrow_with_context<Types...>(error, context);
  fail<Error>(context, error.what());
}

/// Rethrows `error`, raised by `what` of `constraint` on tensors of `shapes`,
/// as its own type, its message prefixed with what ran: "symmetric (forward of
/// raw [3, 2]): add: ...".
[[noreturn]] void rethrow_named(const Constraint& constraint, const std::string& what,
                                const std::vector<Shape>& shapes, const Error& error) {
  std::ostringstream context;
  context << constraint.name() << " (" << what;
  for (std::size_t i = 0; i < shapes.size(); ++i) context << (i ? ", " : " ") << shapes[i];
  context << "): ";
  rethrow_with_context<LinAlgError, ValueError, ShapeError, DTypeError, DeviceError, IndexError,
                       AutogradError>(error, context.str());
}

std::vector<Shape> shapes_of(std::span<const Tensor> tensors) {
  std::vector<Shape> shapes;
  for (const Tensor& t : tensors) shapes.push_back(t.shape());
  return shapes;
}

/// step(), run on `tensors`, its errors named as rethrow_named says (the
/// shapes are gathered only then: a computed parameter's every forward runs here).
template <class Step>
auto naming_errors(const Constraint& constraint, const char* what, std::span<const Tensor> tensors,
                   Step step) {
  try {
    return step();
  } catch (const Error& error) {
    rethrow_named(constraint, what, shapes_of(tensors), error);
  }
}

/// The constraint's buffers as they were, put back unless dismiss()ed: a
/// right_inverse may set them before its value turns out infeasible.
class BufferRestorer {
 public:
  explicit BufferRestorer(Constraint& constraint) {
    for (const auto& [name, buffer] : constraint.buffers())
      saved_.emplace_back(buffer, buffer.clone());
  }
  ~BufferRestorer() {
    NoGradGuard no_grad;
    // In place where the shape allows, which moves the version counter.
    for (auto& [buffer, copy] : saved_) {
      if (buffer.shape() == copy.shape())
        buffer.copy_(copy);
      else
        adopt_data(buffer, copy);
    }
  }
  void dismiss() { saved_.clear(); }

 private:
  std::vector<std::pair<Tensor, Tensor>> saved_;
};

/// Raw inputs for which the constraint gives a value, or why there are none.
struct Fit {
  std::vector<Tensor> raw;
  /// Empty when raw fits; else the message of keep's ValueError.
  std::string failure;
};

/// right_inverse(value), checked by running forward on it; a value it cannot
/// hold leaves the constraint's buffers as they were.
Fit fit(Constraint& constraint, const Tensor& value) {
  if (!constraint.has_right_inverse())
    return {{},
            constraint.name() + ": this constraint has no right_inverse, so a value cannot " +
                "be kept; ValuePolicy::as_raw takes it as the raw input"};
  NoGradGuard no_grad;
  BufferRestorer restorer(constraint);
  Fit result;
  try {
    result.raw = constraint.right_inverse(value);
    result.failure =
        detail::miss_report(constraint, value, constraint.forward(result.raw), result.raw);
    if (auto* chain = dynamic_cast<Chain*>(&constraint); chain && !result.failure.empty())
      result.failure += chain->missed_between_links(value);
  } catch (const detail::Infeasible& error) {
    result.failure = error.what();
  } catch (const ValueError& error) {  // a cholesky that fails, a user's own check
    result.failure = detail::concat(constraint.name(), ": cannot hold the value (expected ",
                                    constraint.condition(), "): ", error.what());
  } catch (const Error& error) {
    rethrow_named(constraint, "right_inverse and forward of a value", {value.shape()}, error);
  }
  if (result.failure.empty()) restorer.dismiss();
  return result;
}

/// The raw inputs of ValuePolicy::as_raw: `value` itself.
std::vector<Tensor> as_raw_inputs(const Constraint& constraint, const Tensor& value) {
  if (constraint.input_names().size() != 1)
    fail<ValueError>(constraint.name(), ": a value can be taken as the raw input only by a ",
                     "constraint with one raw input, this one has ",
                     constraint.input_names().size());
  return {value};
}

/// The nearest feasible value to `value`, and the raw inputs that give it.
std::vector<Tensor> nearest_fit(Constraint& constraint, const Tensor& value) {
  const Tensor nearest = naming_errors(constraint, "project of a value", {&value, 1}, [&] {
    NoGradGuard no_grad;
    return constraint.project(value);
  });
  Fit fitted = fit(constraint, nearest);
  if (!fitted.failure.empty())
    fail<ValueError>(fitted.failure, " (the nearest feasible value to the one given)");
  return fitted.raw;
}

constexpr const char* keep_hint = "; ValuePolicy::nearest takes the nearest feasible value instead";

}  // namespace

std::shared_ptr<Constraint> make_constraint(std::string name,
                                            std::function<Tensor(const Tensor&)> forward,
                                            std::function<Tensor(const Tensor&)> right_inverse) {
  return make_constraint(std::move(name),
                         ConstraintFunctions{.forward = std::move(forward),
                                             .right_inverse = std::move(right_inverse)});
}

std::shared_ptr<Constraint> make_constraint(std::string name, ConstraintFunctions functions) {
  return std::make_shared<LambdaConstraint>(std::move(name), std::move(functions));
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
  constraint_->prepare(raw_inputs_);
}

bool ComputedParameter::versions_unchanged() {
  // The raw inputs first: a training step changes them, and then the
  // constraint's buffers (a list it builds) need not be asked for.
  std::size_t i = 0;
  for (const auto& raw : raw_inputs_)
    if (raw.version() != versions_[i++]) return false;
  for (const auto& [name, buffer] : constraint_->buffers())
    if (i == versions_.size() || buffer.version() != versions_[i++]) return false;
  return i == versions_.size();
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
  // A value computed before a capture would be a constant of the recording:
  // computing it again puts its computation in the step.
  if (capture_id() != capture_id_ && is_capturing()) return false;
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
  if (cache_is_valid() && versions_unchanged()) return cached_;
  cached_ = compute();
  // Every graph built on the cached value shares the constraint's graph: no
  // backward may free it while the cache hands the value out.
  if (!recompute_every_use_) autograd::retain_graph_of(cached_);
  ++recompute_count_;
  // Recorded after forward: a power iteration moves buffers.
  versions_.clear();
  for (const auto& raw : raw_inputs_) versions_.push_back(raw.version());
  for (const auto& [name, buffer] : constraint_->buffers()) versions_.push_back(buffer.version());
  value_version_ = cached_.version();
  grad_mode_ = is_grad_enabled();
  training_mode_ = is_training();
  capture_id_ = capture_id();
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

Tensor ComputedParameter::compute() {
  return naming_errors(*constraint_, "forward of raw", raw_inputs_,
                       [this] { return constraint_->forward(raw_inputs_); });
}

Tensor ComputedParameter::log_abs_det_jacobian() {
  const Tensor value = this->value();
  // Not a bijection: the constraint's own error already names it (or, for
  // unit_vector, it returns Stan's auxiliary-radius term, summed like a Jacobian).
  if (!constraint_->is_bijection())
    return sum(constraint_->log_abs_det_jacobian(raw_inputs_, value));
  return naming_errors(*constraint_, "log_abs_det_jacobian of raw", raw_inputs_,
                       [&] { return sum(constraint_->log_abs_det_jacobian(raw_inputs_, value)); });
}

void ComputedParameter::write_raw(const std::vector<Tensor>& raw) {
  for (std::size_t i = 0; i < raw_inputs_.size(); ++i)
    if (!(raw[i].shape() == raw_inputs_[i].shape()))
      fail<ShapeError>(constraint_->name(), ": assign: the value gives the raw input \"",
                       constraint_->input_names()[i], "\" shape ", raw[i].shape(),
                       ", the parameter's is ", raw_inputs_[i].shape());
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < raw_inputs_.size(); ++i) raw_inputs_[i].copy_(raw[i]);
  invalidate();
}

void ComputedParameter::assign(const Tensor& value, ValuePolicy policy) {
  const Tensor target = value.detach();
  if (policy == ValuePolicy::as_raw) return write_raw(as_raw_inputs(*constraint_, target));
  if (policy == ValuePolicy::nearest) return write_raw(nearest_fit(*constraint_, target));
  Fit fitted = fit(*constraint_, target);
  if (fitted.failure.empty()) return write_raw(fitted.raw);
  if (policy == ValuePolicy::keep_or_raw) return write_raw(as_raw_inputs(*constraint_, target));
  fail<ValueError>(fitted.failure, keep_hint);
}

namespace {

/// `fitted` written into `leaves` when the shapes agree, so the tensors an
/// optimizer holds stay the raw inputs; else copies of `fitted`.
std::vector<Tensor> into_leaves(std::vector<Tensor> leaves, std::vector<Tensor> fitted) {
  bool same_shapes = leaves.size() == fitted.size();
  for (std::size_t i = 0; same_shapes && i < leaves.size(); ++i)
    same_shapes = leaves[i].shape() == fitted[i].shape();
  NoGradGuard no_grad;
  if (!same_shapes) {
    for (Tensor& raw : fitted) raw = raw.detach().clone();
    return fitted;
  }
  for (std::size_t i = 0; i < leaves.size(); ++i) leaves[i].copy_(fitted[i]);
  return leaves;
}

}  // namespace

std::shared_ptr<ComputedParameter> constrain(const std::shared_ptr<Parameter>& parameter,
                                             std::shared_ptr<Constraint> constraint,
                                             ValuePolicy policy) {
  if (const auto* projected = dynamic_cast<const ProjectedParameter*>(parameter.get()))
    fail<ValueError>("constrain: the parameter is projected (", projected->name(), ") and ",
                     constraint->name(), " would drop that projection; constrain the ",
                     "parameter before projecting it, or freeze() it first");
  const Tensor current = parameter->value().detach();
  // The leaves the parameter trains, which stay the raw inputs where they can.
  std::vector<Tensor> leaves;
  if (const auto computed = std::dynamic_pointer_cast<ComputedParameter>(parameter)) {
    constraint = chain(computed->constraint_ptr(), std::move(constraint));
    leaves = computed->raw_inputs();
  } else if (const auto* plain = dynamic_cast<const RawParameter*>(parameter.get())) {
    leaves = {plain->tensor()};
  } else {
    leaves = {current.clone()};
  }
  std::vector<Tensor> raw = leaves;
  if (policy == ValuePolicy::nearest) {
    raw = into_leaves(leaves, nearest_fit(*constraint, current));
  } else if (policy != ValuePolicy::as_raw) {
    Fit fitted = fit(*constraint, current);
    if (fitted.failure.empty())
      raw = into_leaves(leaves, std::move(fitted.raw));
    else if (policy == ValuePolicy::keep)
      fail<ValueError>(fitted.failure, keep_hint);
  }
  if (raw.size() != constraint->input_names().size())
    as_raw_inputs(*constraint, current);  // throws: the tensor cannot be the raw inputs
  auto result = std::make_shared<ComputedParameter>(std::move(constraint), std::move(raw));
  result->train(parameter->is_training());
  if (parameter->prior()) result->set_prior(*parameter->prior());
  return result;
}

std::shared_ptr<Parameter> freeze(const std::shared_ptr<Parameter>& parameter) {
  // No NoGradGuard: a cache computed in grad mode would be recomputed under it,
  // and in training mode that runs one more power iteration of spectral norm.
  auto frozen = make_parameter(parameter->value().detach().clone());
  if (parameter->prior()) frozen->set_prior(*parameter->prior());
  return frozen;
}

}  // namespace tether
