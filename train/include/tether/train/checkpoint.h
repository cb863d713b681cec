// Training checkpoints: a module, its optimizer and its scheduler in one
// safetensors file, so that training resumes exactly where it stopped.
//
//   training::save_checkpoint("run.safetensors", model, adam, &schedule);
//   // later, with the same model, optimizer and scheduler built afresh:
//   training::load_checkpoint("run.safetensors", model, adam, &schedule);
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
// The namespace is `training`, not the layer's name: a namespace `train`
// would make every unqualified call of a program's own train() function
// ambiguous under `using namespace tether`.
#pragma once

#include <string>

#include "tether/nn/checkpoint.h"
#include "tether/nn/module.h"
#include "tether/optim/optimizer.h"
#include "tether/optim/scheduler.h"

namespace tether::training {

/// Writes `module`, `optimizer` and, unless null, `scheduler` to `path` as one
/// safetensors file, atomically as nn::save_safetensors. Throws
/// nn::CheckpointError for a module key that starts with "optimizer." (it
/// would read back as the optimizer's) and for what save_safetensors refuses.
void save_checkpoint(const std::string& path, nn::Module& module, const optim::Optimizer& optimizer,
                     const optim::Scheduler* scheduler = nullptr);

/// Loads what save_checkpoint wrote, already read into `checkpoint` (`name`
/// stands for its file in messages), into `module`, `optimizer` and, unless
/// null, `scheduler` (a file's scheduler state is ignored without one).
/// Everything is checked before anything changes: on any error, an
/// nn::CheckpointError naming the file and the key, all three objects are as
/// they were. Metadata keys outside "optimizer." and "scheduler." (other
/// tools' notes) are ignored.
void load_checkpoint(nn::Checkpoint checkpoint, const std::string& name, nn::Module& module,
                     optim::Optimizer& optimizer, optim::Scheduler* scheduler = nullptr);

/// load_checkpoint of the file at `path` (read with nn::read_safetensors).
void load_checkpoint(const std::string& path, nn::Module& module, optim::Optimizer& optimizer,
                     optim::Scheduler* scheduler = nullptr);

}  // namespace tether::training
