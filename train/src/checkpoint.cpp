#include "tether/train/checkpoint.h"

#include <utility>

#include "tether/error.h"

namespace tether::training {

namespace {

using nn::CheckpointError;

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
std::string take_key(Metadata& metadata, const std::string& key, const std::string& name) {
  const auto it = metadata.find(key);
  if (it == metadata.end())
    fail<CheckpointError>("load_checkpoint(\"", name, "\"): metadata key \"", key, "\" is missing");
  return metadata.extract(it).mapped();
}

/// Throws CheckpointError unless `key`'s text `found` is `expected`, the type of the object loaded
/// into.
void expect_type(const std::string& name, const std::string& key, const std::string& found,
                 const std::string& expected) {
  if (found != expected)
    fail<CheckpointError>("load_checkpoint(\"", name, "\"): metadata key \"", key, "\" is \"",
                          found, "\", but the checkpoint is loaded into a ", expected);
}

}  // namespace

void save_checkpoint(const std::string& path, nn::Module& module, const optim::Optimizer& optimizer,
                     const optim::Scheduler* scheduler) {
  nn::Checkpoint checkpoint{module.state_dict(), {{"optimizer.type", optimizer.name()}}};
  for (const auto& [key, tensor] : checkpoint.tensors)
    if (key.starts_with("optimizer."))
      fail<CheckpointError>("save_checkpoint(\"", path, "\"): the module's key \"", key,
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

void load_checkpoint(nn::Checkpoint checkpoint, const std::string& name, nn::Module& module,
                     optim::Optimizer& optimizer, optim::Scheduler* scheduler) {
  Metadata& metadata = checkpoint.metadata;
  const StateDict optimizer_state = take_prefixed(checkpoint.tensors, "optimizer.state.");
  const Metadata options = take_prefixed(metadata, "optimizer.param_groups.");
  expect_type(name, "optimizer.type", take_key(metadata, "optimizer.type", name), optimizer.name());
  Metadata scheduler_state;
  if (scheduler) {
    expect_type(name, "scheduler.type", take_key(metadata, "scheduler.type", name),
                scheduler->name());
    scheduler_state = take_prefixed(metadata, "scheduler.");
  }
  for (const auto& [key, text] : metadata)
    if (key.starts_with("optimizer."))
      fail<CheckpointError>("load_checkpoint(\"", name, "\"): unexpected metadata key \"", key,
                            "\"");
  // Each object's own checks run first, so that the one load that may still
  // fail, the module's (which changes nothing when it does), comes before the
  // two that then cannot.
  const auto section = [&](const char* keys, const auto& check) {
    try {
      check();
    } catch (const Error& e) {
      fail<CheckpointError>("load_checkpoint(\"", name, "\"): ", keys, ": ", e.what());
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

void load_checkpoint(const std::string& path, nn::Module& module, optim::Optimizer& optimizer,
                     optim::Scheduler* scheduler) {
  load_checkpoint(nn::read_safetensors(path), path, module, optimizer, scheduler);
}

}  // namespace tether::training
