// Training checkpoints: a module, its optimizer and its scheduler in one
// safetensors file, so that training resumes exactly where it stopped.
//
//   optim::save_checkpoint("run.safetensors", model, adam, &schedule);
//   // later, with the same model, optimizer and scheduler built afresh:
//   optim::load_checkpoint("run.safetensors", model, adam, &schedule);
//
// What the file holds (tether/nn/checkpoint.h has the format):
//   tensors      the module's state_dict() under its own keys, so the weights
//                alone load with Module::load(path, false) or
//                safetensors.torch.load_file; the optimizer's state_dict() as
//                "optimizer.state.<parameter>.<buffer>" ("optimizer.state.0.exp_avg",
//                and "optimizer.state.0.step", an i64 scalar, as in torch)
//   metadata     "optimizer.type" ("Adam"), its options_dict() as
//                "optimizer.param_groups.<group>.<option>" ("optimizer.param_groups.0.lr"),
//                and with a scheduler "scheduler.type" ("StepLR") and its
//                state_dict() as "scheduler.<key>" ("scheduler.last_epoch")
//
// This header joins nn and optim: use it through tether::tether.
#pragma once

#include <string>
#include <utility>

#include "tether/nn/checkpoint.h"
#include "tether/optim/optimizer.h"
#include "tether/optim/scheduler.h"

namespace tether::optim {

namespace detail {

/// Removes the entries whose key starts with `prefix` from `from` and
/// returns them without it.
template <class Map>
Map take_prefixed(Map& from, const std::string& prefix) {
  Map taken;
  auto it = from.lower_bound(prefix);
  while (it != from.end() && it->first.starts_with(prefix)) {
    taken.emplace(it->first.substr(prefix.size()), std::move(it->second));
    it = from.erase(it);
  }
  return taken;
}

/// Removes `key` from `metadata` and returns its text; throws CheckpointError when it is missing.
inline std::string take_key(nn::Metadata& metadata, const std::string& key,
                            const std::string& name) {
  const auto it = metadata.find(key);
  if (it == metadata.end())
    fail<nn::CheckpointError>("load_checkpoint(\"", name, "\"): metadata key \"", key,
                              "\" is missing");
  return metadata.extract(it).mapped();
}

/// Throws CheckpointError unless `key`'s text `found` is `expected`, the type of the object loaded
/// into.
inline void expect_type(const std::string& name, const std::string& key, const std::string& found,
                        const std::string& expected) {
  if (found != expected)
    fail<nn::CheckpointError>("load_checkpoint(\"", name, "\"): metadata key \"", key, "\" is \"",
                              found, "\", but the checkpoint is loaded into a ", expected);
}

}  // namespace detail

/// Writes `module`, `optimizer` and, unless null, `scheduler` to `path` as one
/// safetensors file, atomically as nn::save_safetensors. Throws CheckpointError
/// for a module key that starts with "optimizer." (it would read back as the
/// optimizer's) and for what save_safetensors refuses.
inline void save_checkpoint(const std::string& path, nn::Module& module, const Optimizer& optimizer,
                            const Scheduler* scheduler = nullptr) {
  nn::Checkpoint checkpoint{module.state_dict(), {{"optimizer.type", optimizer.name()}}};
  for (const auto& [key, tensor] : checkpoint.tensors)
    if (key.starts_with("optimizer."))
      fail<nn::CheckpointError>("save_checkpoint(\"", path, "\"): the module's key \"", key,
                                "\" would read back as the optimizer's");
  for (const auto& [key, tensor] : optimizer.state_dict())
    checkpoint.tensors.emplace("optimizer.state." + key, tensor);
  for (const auto& [key, text] : optimizer.options_dict())
    checkpoint.metadata.emplace("optimizer.param_groups." + key, text);
  if (scheduler) {
    checkpoint.metadata.emplace("scheduler.type", scheduler->name());
    for (const auto& [key, text] : scheduler->state_dict())
      checkpoint.metadata.emplace("scheduler." + key, text);
  }
  nn::save_safetensors(path, checkpoint.tensors, checkpoint.metadata);
}

/// Loads what save_checkpoint wrote, already read into `checkpoint` (`name`
/// stands for its file in messages), into `module`, `optimizer` and, unless
/// null, `scheduler` (a file's scheduler state is ignored without one).
/// Everything is checked before anything changes: on any error, a
/// CheckpointError naming the file and the key, all three objects are as
/// they were. Metadata keys outside "optimizer." and "scheduler." (other
/// tools' notes) are ignored.
inline void load_checkpoint(nn::Checkpoint checkpoint, const std::string& name, nn::Module& module,
                            Optimizer& optimizer, Scheduler* scheduler = nullptr) {
  nn::Metadata& metadata = checkpoint.metadata;
  const StateDict optimizer_state = detail::take_prefixed(checkpoint.tensors, "optimizer.state.");
  const Metadata options = detail::take_prefixed(metadata, "optimizer.param_groups.");
  detail::expect_type(name, "optimizer.type", detail::take_key(metadata, "optimizer.type", name),
                      optimizer.name());
  Metadata scheduler_state;
  if (scheduler) {
    detail::expect_type(name, "scheduler.type", detail::take_key(metadata, "scheduler.type", name),
                        scheduler->name());
    scheduler_state = detail::take_prefixed(metadata, "scheduler.");
  }
  for (const auto& [key, text] : metadata)
    if (key.starts_with("optimizer."))
      fail<nn::CheckpointError>("load_checkpoint(\"", name, "\"): unexpected metadata key \"", key,
                                "\"");
  // Each object's own checks run first, so that the one load that may still
  // fail, the module's (which changes nothing when it does), comes before the
  // two that then cannot.
  const auto section = [&](const char* keys, const auto& check) {
    try {
      check();
    } catch (const Error& e) {
      fail<nn::CheckpointError>("load_checkpoint(\"", name, "\"): ", keys, ": ", e.what());
    }
  };
  section("optimizer.state.*", [&] { optimizer.check_state_dict(optimizer_state); });
  section("optimizer.param_groups.*", [&] { optimizer.check_options_dict(options); });
  if (scheduler) section("scheduler.*", [&] { scheduler->check_state_dict(scheduler_state); });
  section("the module's keys", [&] { module.load_state_dict(checkpoint.tensors); });
  optimizer.load_state_dict(optimizer_state);
  optimizer.load_options_dict(options);
  if (scheduler) scheduler->load_state_dict(scheduler_state);
}

/// load_checkpoint of the file at `path` (read with nn::read_safetensors).
inline void load_checkpoint(const std::string& path, nn::Module& module, Optimizer& optimizer,
                            Scheduler* scheduler = nullptr) {
  load_checkpoint(nn::read_safetensors(path), path, module, optimizer, scheduler);
}

}  // namespace tether::optim
