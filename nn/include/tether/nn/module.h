// Module: a named tree of parameter slots, buffers and child modules.
//
//   struct Net : tether::nn::Module {
//     std::shared_ptr<tether::nn::Linear> fc1, fc2;
//     Net() {
//       fc1 = register_module("fc1", std::make_shared<tether::nn::Linear>(4, 16));
//       fc2 = register_module("fc2", std::make_shared<tether::nn::Linear>(16, 1));
//     }
//     tether::Tensor forward(const tether::Tensor& x) { return fc2->forward(relu(fc1->forward(x)));
//     }
//   };
//
// A slot is a `std::shared_ptr<Parameter>` member registered by reference, so
// replacing it (fc1->weight = spectrally_normalize(fc1->weight)) is seen everywhere.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tether/nn/checkpoint.h"
#include "tether/parameter.h"
#include "tether/state_dict.h"

namespace tether::nn {

/// What a non-strict load_state_dict did not match, as torch's
/// _IncompatibleKeys; both empty after a strict load.
struct IncompatibleKeys {
  std::vector<std::string> missing_keys;  ///< the module's keys the state lacks: left as they were
  std::vector<std::string> unexpected_keys;  ///< the state's keys the module lacks: ignored
};

/// How state_dict() names a computed parameter's tensors. Raw slots and
/// buffers are named alike in both ("fc.bias").
enum class Naming {
  /// "fc.weight.raw" (or "fc.weight.g", "fc.weight.v"), buffers "fc.weight.u", ...
  tether,
  /// PyTorch's torch.nn.utils.parametrize, so that torch's load_state_dict
  /// takes the file: inputs "fc.parametrizations.weight.original" (several:
  /// "original0", "original1", ...), buffers "fc.parametrizations.weight.0.<name>",
  /// spectral_norm's u and v as "_u" and "_v". One constraint per parameter:
  /// a chain's buffers are not split among torch's numbered parametrizations.
  pytorch,
};

struct SaveOptions {
  Naming naming = Naming::tether;
  FloatStorage floats = FloatStorage::as_is;  ///< FloatStorage::f16 / bf16 to halve the file
};

struct LoadOptions {
  bool strict = true;
  HalfPrecision half = HalfPrecision::to_f32;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Trainable leaf tensors of this module and its children, reached through
  /// computed parameters to their raw inputs ("fc1.weight.raw"). A tensor tied
  /// between slots appears once, under its first name.
  NamedTensors named_parameters();
  std::vector<Tensor> parameters();
  /// Parameter slots by dotted name ("fc1.weight").
  std::vector<std::pair<std::string, std::shared_ptr<Parameter>>> named_slots();

  /// Every trainable tensor and buffer, by dotted name: a raw slot as
  /// "weight", a computed one as `naming` says. The tensors are detached
  /// aliases of the module's own.
  StateDict state_dict(Naming naming = Naming::tether);
  /// Copies the tensors of `state` whose keys the module has into it, as
  /// torch's load_state_dict. A key in either Naming is taken, so a state
  /// dict saved by torch with parametrizations loads here (and one of
  /// tether's wins over its PyTorch alias).
  ///
  /// What PyTorch's names hold is what tether's hold for spectral_norm
  /// (eval-mode outputs are identical; in training mode torch's power
  /// iteration updates u before v, tether's v before u, as
  /// torch.nn.utils.spectral_norm), for orthogonal as torch's default for
  /// square weights (orthogonal_map="matrix_exp", use_trivialization=True;
  /// its "householder" and "cayley" maps read the same input otherwise: load
  /// the value with ComputedParameter::assign instead), and for weight_norm
  /// (torch 2.1's parametrization). The names of torch's older hooks,
  /// torch.nn.utils.spectral_norm's "weight_orig", "weight_u", "weight_v" (whose
  /// power iteration is tether's: training continues with identical outputs)
  /// and torch.nn.utils.weight_norm's "weight_g", "weight_v", load too. Strict, every key of the
  /// module must be in `state` and every key of `state` in the module, or a ValueError names the
  /// missing and unexpected keys. Not strict, the keys that match are loaded, the module's other
  /// tensors keep their values, and the keys that did not match are returned. Either way, a
  /// matching key whose tensor has another shape (ShapeError) or a dtype that does not convert
  /// (ValueError) is an error naming the key. Everything is checked before anything is written: on
  /// error the module is unchanged.
  IncompatibleKeys load_state_dict(const StateDict& state, bool strict = true);
  /// Writes state_dict(options.naming) to `path` as a safetensors file,
  /// atomically, its floating-point tensors stored as options.floats says
  /// (see tether/nn/checkpoint.h).
  void save(const std::string& path, const SaveOptions& options = {});
  /// load_state_dict of the safetensors file at `path`, its half-precision
  /// tensors read as f32 or refused as options.half says. On any error (a
  /// CheckpointError for the file, as load_state_dict for its keys) the module
  /// is unchanged.
  IncompatibleKeys load(const std::string& path, const LoadOptions& options);
  IncompatibleKeys load(const std::string& path, bool strict = true) {
    return load(path, LoadOptions{.strict = strict});
  }

  /// The sum, over every parameter slot here and in the children that has a
  /// prior (Parameter::set_prior), of Parameter::log_prior(include_jacobian):
  /// a 0-d tensor whose gradients reach the trainables. A parameter shared by
  /// several slots counts once; without priors, 0.
  ///
  /// include_jacobian = true (the default) adds each computed parameter's
  /// log-det-Jacobian, giving the log density over the unconstrained raw
  /// inputs: the target of HMC, ADVI and a Laplace approximation in raw
  /// space, and a MAP whose optimum is the mode in raw space. false gives the
  /// log density of the constrained values: its optimum is the MAP of the
  /// values themselves. docs/BIJECTORS.md works an example of both.
  ///
  /// Throws ValueError naming the slot when a slot with a prior has no
  /// Jacobian (its constraint is not a bijection, unit_vector aside: it adds
  /// Stan's auxiliary-radius term; or a projection keeps its
  /// trainables) while include_jacobian is true, or when a prior's
  /// log_density refuses the value (a distribution's validation of its support).
  Tensor log_prior(bool include_jacobian = true);

  /// Training or evaluation mode for this module, its children and their
  /// parameters (and so their constraints).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Clears the gradients of all parameters.
  void zero_grad();

  /// Converts the floating-point tensors of every parameter slot and buffer,
  /// here and in the children, to `dtype` in place (see Parameter::to): every
  /// handle to them sees the new data, and state_dict keys stay the same.
  /// Build optimizers after converting: their state is not converted.
  void to(DType dtype);
  /// Moves every parameter slot and buffer, here and in the children, to
  /// `device` in place, like to(DType). Throws DeviceError for a device this
  /// build or machine cannot use.
  void to(Device device);

 protected:
  /// Makes `slot` a parameter slot named `name`, holding a raw parameter with `initial`.
  void register_parameter(std::string name, std::shared_ptr<Parameter>& slot, Tensor initial);
  /// Makes `slot` a buffer (state saved with the model, not trained).
  void register_buffer(std::string name, Tensor& slot);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> child) {
    children_.emplace_back(std::move(name), child);
    return child;
  }

 private:
  /// A key of a computed parameter in state_dict(Naming::tether), with its
  /// PyTorch names: torch.nn.utils.parametrize's and, for spectral_norm and
  /// weight_norm, the old hook's ("weight_orig"; empty for other constraints).
  struct PytorchNames {
    std::string tether;
    std::string parametrize;
    std::string hook;
  };
  std::vector<PytorchNames> pytorch_names();
  /// Applies `convert_slot` to every slot and `convert_buffer` to every buffer's data.
  void convert(const std::function<void(Parameter&)>& convert_slot,
               const std::function<Tensor(const Tensor&)>& convert_buffer);

  std::vector<std::pair<std::string, std::shared_ptr<Parameter>*>> slots_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// A module with one tensor in and one out: every layer in nn/, and what
/// Sequential chains. A custom layer overrides forward (see README.md).
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace tether::nn
