// What the checkpoint fuzzer (fuzz/checkpoint_fuzz.cpp) does with an input that
// parses, shared with tests/fuzz_checkpoint_corpus_test.cpp, which replays the corpus.
// A small fixed training setup receives it twice: as a module's state
// (Module::load_state_dict) and as a training checkpoint (training::load_checkpoint
// into the module, Adam and StepLR). It has every dtype a checkpoint holds and
// a computed parameter, so key, shape and dtype mismatches all have something
// to mismatch.
#pragma once

#include <tether/tether.h>
#include <tether/train/checkpoint.h>

#include <memory>
#include <string>

#include "same_bytes.h"

namespace tether::fuzz {

/// "linear.bias", "linear.weight.raw", "linear.weight.u", "linear.weight.v"
/// (f32, spectrally normalised), "head.weight", "head.bias" (f64) and the
/// buffer "count" (i64 [2]).
struct CheckpointModel : nn::Module {
  std::shared_ptr<nn::Linear> linear, head;
  Tensor count = zeros({2}, DType::i64);

  CheckpointModel() {
    manual_seed(0);
    linear = register_module("linear", std::make_shared<nn::Linear>(3, 2));
    linear->weight = spectrally_normalize(linear->weight);
    head = register_module("head", std::make_shared<nn::Linear>(2, 1, true, DType::f64));
    register_buffer("count", count);
  }
};

/// Whether two state dicts have the same keys, dtypes, shapes and bytes.
inline bool same_bytes(const StateDict& a, const StateDict& b) {
  if (a.size() != b.size()) return false;
  for (auto left = a.begin(), right = b.begin(); left != a.end(); ++left, ++right)
    if (left->first != right->first || !same_bytes(left->second, right->second)) return false;
  return true;
}

/// The module, Adam over its parameters (one step taken, so it has state)
/// and StepLR, and what each held when built: a failed load must leave them so.
class CheckpointTarget {
 public:
  CheckpointModel model;
  optim::Adam adam{model.parameters(), {.lr = 0.01}};
  optim::StepLR schedule{adam, {.step_size = 2}};

  CheckpointTarget() {
    for (Tensor parameter : model.parameters()) parameter.set_grad(ones_like(parameter));
    adam.step();
    schedule.step();
    initial_ = snapshot();
  }

  /// What loading `checkpoint` does: "module" when it loads as the module's
  /// state, "training" as a training checkpoint, "both", or "neither". After
  /// a load that succeeds, everything is put back as built. Throws
  /// std::logic_error when a failed load changed anything.
  std::string load(const nn::Checkpoint& checkpoint) {
    const bool module_loads = loads([&] { model.load_state_dict(checkpoint.tensors); });
    const bool training_loads =
        loads([&] { training::load_checkpoint(checkpoint, "input", model, adam, &schedule); });
    if (module_loads) return training_loads ? "both" : "module";
    return training_loads ? "training" : "neither";
  }

 private:
  struct Snapshot {
    StateDict model, adam;
    Metadata options, schedule;
    bool operator==(const Snapshot& other) const {
      return same_bytes(model, other.model) && same_bytes(adam, other.adam) &&
             options == other.options && schedule == other.schedule;
    }
  };

  Snapshot snapshot() {
    Snapshot copy{{}, {}, adam.options_dict(), schedule.state_dict()};
    for (const auto& [key, tensor] : model.state_dict()) copy.model.emplace(key, tensor.clone());
    for (const auto& [key, tensor] : adam.state_dict()) copy.adam.emplace(key, tensor.clone());
    return copy;
  }

  template <class Load>
  bool loads(const Load& load) {
    try {
      load();
    } catch (const Error&) {
      if (!(snapshot() == initial_)) throw std::logic_error("a failed load changed the target");
      return false;
    }
    model.load_state_dict(initial_.model);
    adam.load_state_dict(initial_.adam);
    adam.load_options_dict(initial_.options);
    schedule.load_state_dict(initial_.schedule);
    return true;
  }

  Snapshot initial_;
};

}  // namespace tether::fuzz
