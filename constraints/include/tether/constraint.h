// The Constraint interface: a strategy that computes a parameter's value from
// trainable raw tensors; the ComputedParameter that caches that value; and
// constrain(), which puts a parameter under a constraint. Ready-made
// constraints (positive, orthogonal, spectral_norm, ...) are in
// constraint_library.h.
//
// A new constraint is a small subclass,
//
//   struct Positive : tether::Constraint {
//     std::string name() const override { return "positive"; }
//     Tensor forward(const std::vector<Tensor>& raw) override { return tether::exp(raw[0]); }
//   };
//
// or a pair of lambdas, make_constraint("positive", forward, right_inverse).
//
// The set a constraint can hold is its feasible set. One rule covers every
// value handed to a constrained parameter: a feasible value is kept exactly
// (within rounding), an infeasible one is never turned into NaN nor silently
// replaced. constrain() takes a freshly initialised weight, feasible or not,
// and gives a usable constrained weight; assign() of an infeasible value is a
// ValueError unless the caller asks for the nearest feasible value. ValuePolicy
// names the choices.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tether/parameter.h"

namespace tether {

/// What constrain() and ComputedParameter::assign() do with the value given.
enum class ValuePolicy {
  /// The value must be feasible: right_inverse(value) finite and forward of
  /// it reproducing value within rounding (sqrt of the dtype's epsilon times
  /// the largest |value|). Else ValueError naming the constraint, its
  /// condition and the worst element (its index, its value, what it became).
  keep,
  /// The nearest feasible value (Constraint::project), then kept.
  nearest,
  /// The tensor becomes the raw input unchanged and the value is forward of
  /// it, as a PyTorch parametrization without right_inverse (or registered
  /// with unsafe=True). Needs a constraint with one raw input.
  as_raw,
  /// keep for a feasible value, as_raw for any other: constrain()'s default,
  /// so a pretrained feasible weight is kept exactly and a fresh layer's
  /// weight becomes a usable constrained one (softplus(w) under positive()).
  keep_or_raw,
};

class Constraint {
 public:
  virtual ~Constraint() = default;

  /// Shown in errors and diagnostics, e.g. "spectral_norm".
  virtual std::string name() const = 0;
  /// Names of the raw inputs, as they appear in a state dict ("raw" by default;
  /// weight norm has "g" and "v").
  virtual std::vector<std::string> input_names() const { return {"raw"}; }
  /// The constrained value, recorded so that gradients reach the raw inputs.
  virtual Tensor forward(const std::vector<Tensor>& raw) = 0;
  /// Raw inputs for which forward() gives `value` when it is feasible; for
  /// an infeasible value, raw inputs that are not finite or whose forward
  /// misses it (how assign() tells), or a ValueError. A constraint whose value
  /// also depends on its buffers may set those too (orthogonal's "base"), and
  /// leaves them untouched when it throws. The default has none and throws
  /// ValueError; has_right_inverse() says which applies.
  virtual std::vector<Tensor> right_inverse(const Tensor& value);
  virtual bool has_right_inverse() const { return false; }
  /// The feasible set in words, for errors: "values > 0", "symmetric matrices".
  virtual std::string condition() const { return "values its forward can produce"; }
  /// The feasible value nearest to `value` (an open set's boundary is
  /// approached to a relative sqrt(epsilon)), for ValuePolicy::nearest. The
  /// default throws ValueError naming the constraint.
  virtual Tensor project(const Tensor& value);
  /// Whether forward is a bijection from the raw inputs onto the feasible set
  /// (positive, bounded, the stick-breaking simplex, ...), so that it has a
  /// log-det-Jacobian. Not for constraints where many raw inputs give one value:
  /// raw inputs with more free coordinates than the value (symmetric, unit_norm,
  /// softmax's simplex, weight_norm, spectral_norm) or with coordinates forward
  /// ignores (lower_triangular, cholesky_factor and positive_definite read only
  /// raw's lower triangle, orthogonal its strictly lower one).
  virtual bool is_bijection() const { return false; }
  /// How many trailing dims of the value form one event, as in
  /// torch.distributions' Transform.codomain.event_dim: 0 for element-wise maps
  /// (positive, bounded), 1 for vector maps (simplex, ordered), 2 for matrix
  /// maps (Cholesky factors, correlation matrices).
  virtual std::int64_t event_dim() const { return 0; }
  /// log |det J| of forward at `raw` (`value` is forward(raw), passed so it
  /// need not be recomputed), recorded so that gradients reach the raw inputs.
  /// As torch.distributions' log_abs_det_jacobian(x, y): one entry per event,
  /// shaped as `value` without its last event_dim() dims. Where the raw input
  /// has fewer entries than the value (a simplex of K entries from K - 1),
  /// J is taken onto the value's free coordinates (all but the last), as
  /// there. Element-wise maps give one entry per element (positive:
  /// log sigmoid(raw), or raw for the exp map; bounded: log((hi - lo)
  /// sigmoid(raw) sigmoid(-raw))), computed from raw so it stays finite where
  /// the value rounds onto the boundary. The default throws ValueError naming
  /// the constraint: "symmetric: not a bijection onto its values (symmetric
  /// matrices), so it has no log-det-Jacobian".
  virtual Tensor log_abs_det_jacobian(const std::vector<Tensor>& raw, const Tensor& value);
  /// Non-trainable state, by name (spectral norm's "u" and "v").
  virtual NamedTensors buffers() { return {}; }
  /// Called by ComputedParameter with its raw inputs before anything else:
  /// creates the buffers whose shape depends on them (orthogonal's "base"),
  /// so that state dicts hold them before the first forward.
  virtual void prepare(const std::vector<Tensor>& /*raw*/) {}

  virtual void train(bool on) { training_ = on; }
  bool is_training() const { return training_; }

 private:
  bool training_ = true;
};

/// A constraint from lambdas: `forward` maps the raw tensor to the value;
/// `right_inverse`, if given, maps a value back to a raw tensor.
std::shared_ptr<Constraint> make_constraint(
    std::string name, std::function<Tensor(const Tensor&)> forward,
    std::function<Tensor(const Tensor&)> right_inverse = {});

/// The parts of a constraint with one raw input; only forward is required.
struct ConstraintFunctions {
  std::function<Tensor(const Tensor&)> forward;
  std::function<Tensor(const Tensor&)> right_inverse = {};
  /// The feasible set in words, for errors ("values > 0").
  std::string condition = "values its forward can produce";
  /// The nearest feasible value, for ValuePolicy::nearest.
  std::function<Tensor(const Tensor&)> project = {};
  /// log |det J| of forward at raw, given raw and value = forward(raw), as
  /// Constraint::log_abs_det_jacobian. Setting it declares forward a bijection.
  std::function<Tensor(const Tensor& raw, const Tensor& value)> log_abs_det_jacobian = {};
  /// The trailing dims of the value forming one event (Constraint::event_dim).
  std::int64_t event_dim = 0;
};
/// A constraint from its functions:
/// make_constraint("positive", {.forward = ..., .right_inverse = ..., .condition = "values > 0"}).
std::shared_ptr<Constraint> make_constraint(std::string name, ConstraintFunctions functions);

/// `first` then `second`: value = second(first(raw)). `second` must take one
/// input. A bijection when both links are, with event_dim the larger of
/// theirs and log|J| = log|J_first|(raw) + log|J_second|(first(raw)), each
/// term summed over the trailing dims its own event leaves out, as
/// torch.distributions.ComposeTransform. Feasible: what second can hold whose right_inverse first
/// can hold. A value of the chain can still be one it cannot hold: second's right_inverse picks one
/// intermediate value, which first may not give (chain(symmetric(), lower_triangular()): it picks
/// the lower triangle itself). Keeping such a value throws ValueError naming that pick.
std::shared_ptr<Constraint> chain(std::shared_ptr<Constraint> first,
                                  std::shared_ptr<Constraint> second);

/// A value computed from raw trainable tensors by a Constraint, and cached.
///
/// value() returns the cached tensor and recomputes only when
///  1. a raw input's or a buffer's version counter moved (an optimizer step,
///     load_state_dict, any in-place write),
///  2. grad mode or train/eval mode differ from when it was computed,
///  3. invalidate() was called.
/// So a weight used by two layers, at 100 time steps or by two losses is
/// computed once per optimizer step, and in eval mode under NoGradGuard once
/// until it changes.
///
/// The constraint's graph (the nodes its forward recorded, between the raw
/// leaves and the cached value) lives as long as the cache entry: every graph
/// built on the value shares it, so a backward without retain_graph runs it
/// but does not free it (autograd::retain_graph_of). Each backward adds its
/// gradients into the raw leaves, as without the cache. The graph is freed
/// when a recompute or invalidate() replaces the entry and no graph built on
/// the old value is left.
class ComputedParameter final : public Parameter {
 public:
  /// `raw_inputs` become the trainable leaves (marked requires_grad); the
  /// constraint's prepare() sees them.
  ComputedParameter(std::shared_ptr<Constraint> constraint, std::vector<Tensor> raw_inputs);

  /// A write into the value handed out earlier is carried to the raw inputs
  /// first, as assign(written value) carries it (an infeasible write is a
  /// ValueError). Errors raised inside the constraint's forward keep their
  /// type and message, prefixed with the constraint's name and the raw input
  /// shapes.
  Tensor value() override;
  NamedTensors trainables() override;
  NamedTensors buffers() override { return constraint_->buffers(); }
  void train(bool on) override;

  /// Drops the cache; the next value() recomputes.
  void invalidate() { cached_ = Tensor(); }
  /// Recompute at every value() instead of caching (trades time for memory:
  /// each use gets a graph of its own, which its backward frees).
  void set_recompute_every_use(bool on) { recompute_every_use_ = on; }
  /// Sets the raw inputs so that value() gives `value` (policy keep), its
  /// nearest feasible value (nearest), forward(value) (as_raw), or the first
  /// that applies (keep_or_raw), as ValuePolicy says. Throws ValueError for
  /// an infeasible value under keep, or when the constraint lacks what the
  /// policy needs (right_inverse, project, one raw input); a failed assign
  /// changes nothing.
  void assign(const Tensor& value, ValuePolicy policy = ValuePolicy::keep);
  /// The log-det-Jacobian of the constraint at the raw inputs, summed over
  /// every event: a 0-d tensor recorded so that gradients reach the raw
  /// inputs, the term a density over the unconstrained space adds. Throws
  /// ValueError naming the constraint when it is not a bijection (unit_vector
  /// gives its auxiliary-radius term, summed, instead).
  Tensor log_abs_det_jacobian() override;
  /// How many times the constraint's forward has run (for tests and diagnostics).
  std::uint64_t recompute_count() const { return recompute_count_; }

  Constraint& constraint() { return *constraint_; }
  const std::shared_ptr<Constraint>& constraint_ptr() const { return constraint_; }
  const std::vector<Tensor>& raw_inputs() const { return raw_inputs_; }

 private:
  void data_replaced() override { invalidate(); }
  bool cache_is_valid() const;
  bool value_was_written() const;
  /// constraint_->forward(raw_inputs_), its errors naming the constraint.
  Tensor compute();
  /// Copies `raw` into the raw inputs (checking shapes) and drops the cache.
  void write_raw(const std::vector<Tensor>& raw);
  /// Whether every raw input and buffer still has the version recorded with the cache.
  bool versions_unchanged();

  std::shared_ptr<Constraint> constraint_;
  std::vector<Tensor> raw_inputs_;
  bool recompute_every_use_ = false;
  std::uint64_t recompute_count_ = 0;

  // What the cached value was computed from.
  Tensor cached_;
  std::vector<std::uint64_t> versions_;
  std::uint64_t value_version_ = 0;
  bool grad_mode_ = false;
  bool training_mode_ = true;
  std::uint64_t capture_id_ = 0;  // the capture it was computed in (capture.h), 0 for none
};

/// A computed parameter applying `constraint` to what `parameter` holds, its
/// current value treated as `policy` says (see ValuePolicy). The default,
/// keep_or_raw, keeps a feasible value exactly and otherwise takes the
/// current tensor as the raw input: a fresh Linear's weight under positive()
/// becomes softplus(w), under simplex() softmax(w), under orthogonal()
/// base @ matrix_exp(skew(w)); never NaN.
///
/// The trainable leaves stay those of `parameter`, so an optimizer built
/// earlier keeps training them: a raw parameter's leaf becomes the raw input
/// (written in place when the value is kept); a computed parameter is
/// stacked, as PyTorch's register_parametrization stacks: chain(its
/// constraint, `constraint`) over its own raw inputs, which as_raw (or
/// keep_or_raw for an infeasible value) leaves untouched, so the old value
/// becomes the input of `constraint`. Throws ValueError for a
/// ProjectedParameter, whose projection would be dropped.
std::shared_ptr<ComputedParameter> constrain(const std::shared_ptr<Parameter>& parameter,
                                             std::shared_ptr<Constraint> constraint,
                                             ValuePolicy policy = ValuePolicy::keep_or_raw);

/// A raw parameter holding a copy of `parameter`'s current value, for deployment.
std::shared_ptr<Parameter> freeze(const std::shared_ptr<Parameter>& parameter);

}  // namespace tether
