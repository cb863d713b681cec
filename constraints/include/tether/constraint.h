// Constraints: strategies that compute a parameter's value from trainable raw
// tensors, and the ComputedParameter that caches that value.
//
// A new constraint is a small subclass,
//
//   struct Positive : tether::Constraint {
//     std::string name() const override { return "positive"; }
//     Tensor forward(const std::vector<Tensor>& raw) override { return tether::exp(raw[0]); }
//   };
//
// or a pair of lambdas, make_constraint("positive", forward, right_inverse).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tether/parameter.h"

namespace tether {

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
  /// Raw inputs for which forward() gives `value`; a constraint whose value
  /// also depends on its buffers may set those too (orthogonal's "base"). The
  /// default has none and throws ValueError; has_right_inverse() says which applies.
  virtual std::vector<Tensor> right_inverse(const Tensor& value);
  virtual bool has_right_inverse() const { return false; }
  /// Non-trainable state, by name (spectral norm's "u" and "v").
  virtual NamedTensors buffers() { return {}; }

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

/// `first` then `second`: value = second(first(raw)). `second` must take one input.
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
  /// `raw_inputs` become the trainable leaves (marked requires_grad).
  ComputedParameter(std::shared_ptr<Constraint> constraint, std::vector<Tensor> raw_inputs);

  Tensor value() override;
  NamedTensors trainables() override;
  NamedTensors buffers() override { return constraint_->buffers(); }
  void train(bool on) override;

  /// Drops the cache; the next value() recomputes.
  void invalidate() { cached_ = Tensor(); }
  /// Recompute at every value() instead of caching (trades time for memory:
  /// each use gets a graph of its own, which its backward frees).
  void set_recompute_every_use(bool on) { recompute_every_use_ = on; }
  /// Sets the raw inputs so that value() reproduces `value`, through the
  /// constraint's right_inverse. Throws ValueError if it has none.
  void assign(const Tensor& value);
  /// How many times the constraint's forward has run (for tests and diagnostics).
  std::uint64_t recompute_count() const { return recompute_count_; }

  Constraint& constraint() { return *constraint_; }
  const std::vector<Tensor>& raw_inputs() const { return raw_inputs_; }

 private:
  void data_replaced() override { invalidate(); }
  bool cache_is_valid() const;
  bool value_was_written() const;
  /// Visits the version counter of every raw input and buffer, in a fixed order.
  template <class Visit>
  void for_each_version(Visit visit);

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
};

/// A computed parameter applying `constraint` to what `parameter` holds. The
/// current value is kept where the constraint can represent it: the raw inputs
/// are right_inverse(value) when it exists, else the value itself. A raw
/// parameter's leaf tensor is reused, so optimizers built earlier still see it.
std::shared_ptr<ComputedParameter> constrain(const std::shared_ptr<Parameter>& parameter,
                                             std::shared_ptr<Constraint> constraint);

/// A raw parameter holding a copy of `parameter`'s current value, for deployment.
std::shared_ptr<Parameter> freeze(const std::shared_ptr<Parameter>& parameter);

}  // namespace tether
