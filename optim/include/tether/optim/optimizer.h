// Optimizers update trainable leaf tensors in place, under no-grad. That bumps
// their version counters, which is what tells every computed parameter its
// cache is stale: optimizers know nothing about constraints, but for the
// leaves of manifold parameters, which only the Riemannian optimizers
// (riemannian.h) step and every other one refuses.
//
// Parameters come in groups, each with its own options (learning rate and the
// rest), as torch.optim's param_groups:
//
//   optim::Adam adam({{encoder.parameters(), {.lr = 1e-4}},
//                     {head.parameters(), {.lr = 1e-3, .weight_decay = 1e-2}}});
//
// A constructor taking (parameters, options) makes one group. Per-parameter
// state (step count, moment buffers) is indexed by the parameter's position in
// parameters(), which is how state_dict() names it: "0.step", "0.exp_avg", ...
// The groups' options are text in options_dict(): "0.lr", "1.weight_decay", ...
// Each Options struct lists its members once, in a constexpr fields() that
// both options_dict() and load_options_dict() walk; GroupedOptimizer checks at
// compile time that it names every member, so no option can be left out of a
// checkpoint. tether/train/checkpoint.h saves both with the model in one file.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tether/capture.h"
#include "tether/grad_mode.h"
#include "tether/state_dict.h"
#include "tether/tensor.h"

namespace tether::optim {

namespace detail {

/// `value` as text that reads back to exactly the same value.
std::string to_text(double value);
std::string to_text(std::int64_t value);
std::string to_text(bool value);

/// Reads the entries of a Metadata, each at most once, as numbers: a missing
/// key, text that is not a number of the asked kind, and (in finish()) a key
/// nobody asked for are ValueErrors "<owner>: key "<key>" ...".
class MetadataReader {
 public:
  MetadataReader(const Metadata& metadata, std::string owner)
      : metadata_(metadata), owner_(std::move(owner)) {}
  /// A number, never nan; finite unless `infinite_too`.
  double number(const std::string& key, bool infinite_too = false);
  double non_negative(const std::string& key);  ///< a finite number >= 0
  std::int64_t count(const std::string& key);   ///< an integer >= 0
  bool flag(const std::string& key);            ///< "true" or "false"
  /// "<key>.0", "<key>.1", ... "<key>.<size - 1>", each non_negative().
  std::vector<double> list(const std::string& key, std::size_t size);
  /// Throws for a key that none of the calls above read; `hint` ends the message.
  void finish(const std::string& hint = "") const;

 private:
  const std::string& text(const std::string& key);
  [[noreturn]] void bad(const std::string& key, const std::string& expected) const;

  const Metadata& metadata_;
  std::string owner_;
  std::set<std::string> read_;
};

/// One option as options_dict() writes it, under "<prefix><key>": a number, a
/// flag, or a pair of numbers under two keys (Adam's betas).
void write_option(Metadata& text, const std::string& prefix, double value, const char* key);
void write_option(Metadata& text, const std::string& prefix, bool value, const char* key);
void write_option(Metadata& text, const std::string& prefix, const std::pair<double, double>& value,
                  const char* first, const char* second);
/// The same option read back, as a finite number, true/false and two finite numbers.
void read_option(MetadataReader& reader, const std::string& prefix, double& value, const char* key);
void read_option(MetadataReader& reader, const std::string& prefix, bool& value, const char* key);
void read_option(MetadataReader& reader, const std::string& prefix,
                 std::pair<double, double>& value, const char* first, const char* second);

/// Throws ValueError "<optimizer>: betas must lie in [0, 1), got (b1, b2)"
/// unless both do: Adam's check of its moments' decay rates.
void check_betas(const std::string& optimizer, const std::pair<double, double>& betas);

/// How error messages name the option `key`: "learning rate" and "weight
/// decay" in words, the others by their key.
const char* option_label(const char* key);

/// Converts to any type; only named in unevaluated initialisers, by member_count.
struct AnyMember {
  template <class T>
  operator T() const;
};

/// How many non-static members the aggregate T has: the most initialisers
/// `T{...}` accepts (a std::pair member takes one).
template <class T, class... Members>
constexpr std::size_t member_count() {
  if constexpr (requires { T{Members{}..., AnyMember{}}; })
    return member_count<T, Members..., AnyMember>();
  else
    return sizeof...(Members);
}

/// Whether Options::fields(options, option) calls `option` once for each
/// member of Options and never twice for the same one: the compile-time
/// guard that keeps options_dict() complete.
template <class Options>
constexpr bool fields_name_every_member() {
  Options options{};
  std::array<const void*, member_count<Options>()> seen{};
  std::size_t visits = 0;
  bool repeated = false;
  Options::fields(options, [&](const auto& member, const auto&...) {
    for (std::size_t i = 0; i < visits && i < seen.size(); ++i) repeated |= seen[i] == &member;
    if (visits < seen.size()) seen[visits] = &member;
    ++visits;
  });
  return !repeated && visits == seen.size();
}

}  // namespace detail

/// What an optimizer remembers about one parameter between steps.
struct ParameterState {
  std::int64_t step = 0;  ///< updates taken (steps at which the parameter had a gradient)
  /// Running buffers by name ("exp_avg", "momentum_buffer", ...), shaped like the parameter.
  std::map<std::string, Tensor> buffers;

  /// The buffer `name`, created as full_like(parameter, initial) on first use.
  Tensor& buffer(const std::string& name, const Tensor& parameter, double initial = 0);
};

/// The interface every optimizer shares: stepping, gradients, learning rates
/// per group (what schedulers drive) and saving and restoring the state.
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  /// One update from the parameters' current gradients (parameters without a
  /// gradient are skipped and their step count stays).
  virtual void step() = 0;
  /// Clears the gradients (sets them undefined, as PyTorch's set_to_none);
  /// like step(), a host action in a captured step.
  void zero_grad();
  /// Every parameter, group after group; a parameter's index here names its state.
  const std::vector<Tensor>& parameters() const { return parameters_; }
  /// "SGD", "Adam", ...: the name errors start with.
  const std::string& name() const { return name_; }

  virtual std::size_t group_count() const = 0;
  virtual double lr(std::size_t group) const = 0;
  /// Sets one group's learning rate, checked as the constructor checks it: a
  /// ValueError for one that is negative, infinite or nan, and the rate stays.
  virtual void set_lr(std::size_t group, double lr) = 0;

  /// Each stepped parameter's state as "<index>.step" (an i64 scalar) and
  /// "<index>.<buffer>". The buffers are the live tensors, as
  /// Module::state_dict's: save or clone them before the next step.
  StateDict state_dict() const;
  /// Replaces the whole state by copies of `state`'s tensors, converted to each
  /// parameter's dtype and device. Checks every key first and changes nothing
  /// when one is wrong: a ValueError for an unknown key, index or buffer name,
  /// a ShapeError for a buffer not shaped like its parameter.
  void load_state_dict(const StateDict& state);
  /// Throws what load_state_dict(state) would, and changes nothing.
  void check_state_dict(const StateDict& state) const { loaded_state(state); }

  /// Every group's options as "<group>.<option>" (the Options member's name;
  /// Adam's betas as "beta1", "beta2") -> text that reads back exactly:
  /// "0.lr" -> "0.001", "0.amsgrad" -> "false". A learning rate a scheduler
  /// or the user changed is saved as it is now.
  virtual Metadata options_dict() const = 0;
  /// Sets every group's options from `options`, as options_dict() writes them.
  /// Checks everything first and changes nothing when something is wrong: a
  /// ValueError naming the key for a missing key or one of a group the
  /// optimizer does not have, text that is not a number (true/false for a
  /// flag), and options the constructor would refuse.
  virtual void load_options_dict(const Metadata& options) = 0;
  /// Throws what load_options_dict(options) would, and changes nothing.
  virtual void check_options_dict(const Metadata& options) const = 0;

 protected:
  /// `buffer_names`: the buffers this kind of optimizer may keep, which
  /// load_state_dict accepts. Throws ValueError for a parameter that is not a
  /// leaf requiring grad, or one given twice, and, unless `riemannian`, for
  /// the leaf of a ManifoldParameter (tether/manifold.h), which a Euclidean
  /// step would take off its manifold.
  Optimizer(std::string name, std::vector<Tensor> parameters, std::vector<std::string> buffer_names,
            bool riemannian = false);
  /// Throws ValueError "<name>: <what> must be a finite number >= 0, got <value>"
  /// unless 0 <= value < infinity (so for nan too).
  void check_non_negative(const char* what, double value) const;
  /// Throws ValueError "<name>: <what> must be a finite number, got <value>"
  /// for an infinity or nan.
  void check_finite(const char* what, double value) const;
  /// Throws IndexError "<name>: parameter group <group> does not exist (<count> groups)"
  /// unless group < count.
  void check_group(std::size_t group, std::size_t count) const;

  std::vector<ParameterState> state_;  ///< one per parameter, as parameters()

 private:
  /// The state load_state_dict(state) puts in place, built aside.
  std::vector<ParameterState> loaded_state(const StateDict& state) const;

  std::string name_;
  std::vector<Tensor> parameters_;
  std::vector<std::string> buffer_names_;
};

/// Parameters that share one set of options.
template <class Options>
struct ParamGroup {
  std::vector<Tensor> parameters;
  Options options;
};

/// An optimizer whose Options are set per group. Options is an aggregate with
/// an `lr` and a `static constexpr void fields(auto& options, auto&& option)`
/// that calls option(member, key) for each member in order (option(member,
/// first_key, second_key) for a pair): the keys of options_dict(). A subclass
/// writes the update of one parameter; stepping through the groups under
/// no-grad, counting steps and the options' text happen here, once for all.
template <class Options>
class GroupedOptimizer : public Optimizer {
  static_assert(detail::fields_name_every_member<Options>(),
                "Options::fields must name each member of Options once, or "
                "options_dict() would leave an option out of checkpoints");

 public:
  using Group = ParamGroup<Options>;

  /// In a captured step (capture.h) this is a host action: each replay runs
  /// it again, so step counts advance and learning rates are read anew.
  void step() override {
    host_action([this] { step_now(); });
  }

  /// The groups, in the order given; their parameters are fixed, their options
  /// are changed through set_options(group, ...) or set_lr.
  /// (Here and below, a group index out of range is an IndexError.)
  const std::vector<Group>& param_groups() const { return groups_; }
  const Options& options(std::size_t group = 0) const { return group_at(group).options; }
  /// Replaces one group's options after checking them as the constructor
  /// does: a ValueError for options it would refuse, and the old ones stay.
  void set_options(std::size_t group, const Options& options) {
    Group& changed = group_at(group);
    check_options(options);
    changed.options = options;
  }

  std::size_t group_count() const override { return groups_.size(); }
  double lr(std::size_t group) const override { return group_at(group).options.lr; }
  void set_lr(std::size_t group, double lr) override {
    Options options = group_at(group).options;
    options.lr = lr;
    set_options(group, options);
  }

  Metadata options_dict() const override {
    Metadata text;
    for (std::size_t g = 0; g < groups_.size(); ++g)
      Options::fields(groups_[g].options, [&](const auto& member, const auto*... keys) {
        detail::write_option(text, std::to_string(g) + ".", member, keys...);
      });
    return text;
  }
  void load_options_dict(const Metadata& text) override {
    const std::vector<Options> loaded = loaded_options(text);
    for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g].options = loaded[g];
  }
  void check_options_dict(const Metadata& text) const override { loaded_options(text); }

 protected:
  GroupedOptimizer(std::string name, std::vector<Group> groups,
                   std::vector<std::string> buffer_names, bool riemannian = false)
      : Optimizer(std::move(name), all_parameters(groups), std::move(buffer_names), riemannian),
        groups_(std::move(groups)) {}

  /// Updates `parameter` in place from `grad` (never written) and its state,
  /// whose step count already includes this step.
  virtual void update(Tensor& parameter, Tensor grad, ParameterState& state,
                      const Options& options) = 0;
  /// Throws ValueError for options the optimizer refuses: the one check of
  /// an Options, which subclass constructors call for each group,
  /// load_options_dict for each loaded one and set_options (so set_lr) for
  /// the new one. By default every number must be finite and >= 0, in the
  /// order of fields() ("<name>: learning rate must be a finite number >= 0,
  /// got nan"); a pair of numbers is left to the subclass.
  virtual void check_options(const Options& options) const {
    Options::fields(options, [&](const auto& member, const char* key, const auto*...) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(member)>, double>)
        check_non_negative(detail::option_label(key), member);
    });
  }
  void check_all_options() const {
    for (const Group& group : groups_) check_options(group.options);
  }

 private:
  void step_now() {
    NoGradGuard no_grad;
    std::size_t index = 0;
    for (const Group& group : groups_)
      for (Tensor parameter : group.parameters) {
        ParameterState& state = state_[index++];
        const Tensor grad = parameter.grad();
        if (!grad.defined()) continue;
        ++state.step;
        update(parameter, grad, state, group.options);
      }
  }
  Group& group_at(std::size_t group) {
    check_group(group, groups_.size());
    return groups_[group];
  }
  const Group& group_at(std::size_t group) const {
    check_group(group, groups_.size());
    return groups_[group];
  }

  std::vector<Options> loaded_options(const Metadata& text) const {
    detail::MetadataReader reader(text, name() + ".load_options_dict");
    std::vector<Options> loaded;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      Options options = groups_[g].options;
      Options::fields(options, [&](auto& member, const auto*... keys) {
        detail::read_option(reader, std::to_string(g) + ".", member, keys...);
      });
      check_options(options);
      loaded.push_back(options);
    }
    const std::size_t count = groups_.size();
    reader.finish(" (" + name() + " has " + std::to_string(count) + " parameter group" +
                  (count == 1 ? ")" : "s)"));
    return loaded;
  }

  static std::vector<Tensor> all_parameters(const std::vector<Group>& groups) {
    std::vector<Tensor> parameters;
    for (const Group& group : groups)
      parameters.insert(parameters.end(), group.parameters.begin(), group.parameters.end());
    return parameters;
  }

  std::vector<Group> groups_;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;

  /// Each member and its options_dict() key (see GroupedOptimizer).
  static constexpr void fields(auto& options, auto&& option) {
    option(options.lr, "lr");
    option(options.momentum, "momentum");
    option(options.dampening, "dampening");
    option(options.weight_decay, "weight_decay");
    option(options.nesterov, "nesterov");
  }
};

/// Stochastic gradient descent with optional momentum, dampening, Nesterov
/// momentum and weight decay, following torch.optim.SGD's update rule.
/// State: "momentum_buffer" (with momentum).
class SGD final : public GroupedOptimizer<SGDOptions> {
 public:
  SGD(std::vector<Tensor> parameters, SGDOptions options);
  explicit SGD(std::vector<Group> groups);

 private:
  void update(Tensor& parameter, Tensor grad, ParameterState& state,
              const SGDOptions& options) override;
  void check_options(const SGDOptions& options) const override;
};

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas{0.9,
                                  0.999};  ///< decay of the gradient's first and second moments
  double eps = 1e-8;                       ///< added to the denominator
  /// Adam: L2 penalty added to the gradient; AdamW: decoupled decay of the
  /// weights by lr * weight_decay each step (torch.optim.AdamW defaults to 1e-2).
  double weight_decay = 0.0;
  /// Divides by the largest second moment seen so far (Reddi et al., 2018).
  bool amsgrad = false;

  /// Each member and its options_dict() key (see GroupedOptimizer).
  static constexpr void fields(auto& options, auto&& option) {
    option(options.lr, "lr");
    option(options.betas, "beta1", "beta2");
    option(options.eps, "eps");
    option(options.weight_decay, "weight_decay");
    option(options.amsgrad, "amsgrad");
  }
};

/// Adam (Kingma and Ba, 2015), following torch.optim.Adam's update rule. Each
/// parameter's state is created at its first step, on the parameter's device
/// and dtype: "exp_avg", "exp_avg_sq" (moving averages of the gradient and its
/// square) and, with amsgrad, "max_exp_avg_sq".
class Adam : public GroupedOptimizer<AdamOptions> {
 public:
  Adam(std::vector<Tensor> parameters, AdamOptions options);
  explicit Adam(std::vector<Group> groups);

 protected:
  /// decoupled_weight_decay: AdamW's rule instead of Adam's L2 penalty.
  Adam(std::vector<Group> groups, bool decoupled_weight_decay);

 private:
  void update(Tensor& parameter, Tensor grad, ParameterState& state,
              const AdamOptions& options) override;
  void check_options(const AdamOptions& options) const override;

  bool decoupled_weight_decay_;
};

/// AdamW (Loshchilov and Hutter, 2019): Adam whose weight decay shrinks the
/// weights directly instead of entering the moment estimates.
class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> parameters, AdamOptions options)
      : Adam({{std::move(parameters), options}}, true) {}
  explicit AdamW(std::vector<Group> groups) : Adam(std::move(groups), true) {}
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;        ///< decay of the running mean of the squared gradient
  double eps = 1e-8;          ///< added to the denominator
  double weight_decay = 0.0;  ///< L2 penalty added to the gradient
  double momentum = 0.0;
  /// Divides by an estimate of the gradient's standard deviation (its mean
  /// square minus its squared mean) instead of its root mean square.
  bool centered = false;

  /// Each member and its options_dict() key (see GroupedOptimizer).
  static constexpr void fields(auto& options, auto&& option) {
    option(options.lr, "lr");
    option(options.alpha, "alpha");
    option(options.eps, "eps");
    option(options.weight_decay, "weight_decay");
    option(options.momentum, "momentum");
    option(options.centered, "centered");
  }
};

/// RMSprop (Hinton's lecture 6e), following torch.optim.RMSprop's update rule.
/// State: "square_avg", with centered "grad_avg", with momentum "momentum_buffer".
/// Every number option must be finite and >= 0.
class RMSprop final : public GroupedOptimizer<RMSpropOptions> {
 public:
  RMSprop(std::vector<Tensor> parameters, RMSpropOptions options);
  explicit RMSprop(std::vector<Group> groups);

 private:
  void update(Tensor& parameter, Tensor grad, ParameterState& state,
              const RMSpropOptions& options) override;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;                   ///< step t uses lr / (1 + (t - 1) lr_decay)
  double weight_decay = 0.0;               ///< L2 penalty added to the gradient
  double initial_accumulator_value = 0.0;  ///< the sum of squared gradients starts here
  double eps = 1e-10;                      ///< added to the denominator

  /// Each member and its options_dict() key (see GroupedOptimizer).
  static constexpr void fields(auto& options, auto&& option) {
    option(options.lr, "lr");
    option(options.lr_decay, "lr_decay");
    option(options.weight_decay, "weight_decay");
    option(options.initial_accumulator_value, "initial_accumulator_value");
    option(options.eps, "eps");
  }
};

/// Adagrad (Duchi et al., 2011), following torch.optim.Adagrad's update rule:
/// each weight's step shrinks with the sum of its squared gradients.
/// State: "sum". Every option must be finite and >= 0.
class Adagrad final : public GroupedOptimizer<AdagradOptions> {
 public:
  Adagrad(std::vector<Tensor> parameters, AdagradOptions options);
  explicit Adagrad(std::vector<Group> groups);

 private:
  void update(Tensor& parameter, Tensor grad, ParameterState& state,
              const AdagradOptions& options) override;
};

}  // namespace tether::optim
