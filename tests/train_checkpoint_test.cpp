// Training checkpoints: training::save_checkpoint / load_checkpoint, which
// resume training bit for bit or, given a bad file, change nothing.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "scratch_directory.h"

using namespace tether;
using Catch::Matchers::Contains;

namespace {

/// A scratch directory of this file's own.
struct ScratchFile : testing::ScratchDirectory {
  ScratchFile() : testing::ScratchDirectory("tether_train_checkpoint_test") {}
};

/// Every value of a state, for exact comparison.
std::map<std::string, std::vector<double>> values(const StateDict& state) {
  std::map<std::string, std::vector<double>> result;
  for (const auto& [key, tensor] : state) result[key] = tensor.to_vector<double>();
  return result;
}

/// A small regression, trained by Adam with a StepLR schedule: the model's
/// first weight is spectrally normalised, so the checkpoint holds u and v too.
struct Training {
  std::shared_ptr<nn::Sequential> model;
  optim::Adam adam;
  optim::StepLR schedule;
  Tensor x, y;

  explicit Training(std::uint64_t seed)
      : model(make_model(seed)),
        adam(model->parameters(), {.lr = 0.05, .weight_decay = 0.01}),
        schedule(adam, {.step_size = 2, .gamma = 0.5}) {
    manual_seed(99);  // the same data for every seed
    x = randn({8, 3});
    y = randn({8, 1});
  }

  static std::shared_ptr<nn::Sequential> make_model(std::uint64_t seed) {
    manual_seed(seed);
    auto first = std::make_shared<nn::Linear>(3, 4);
    first->weight = spectrally_normalize(first->weight);
    return std::make_shared<nn::Sequential>(nn::Sequential::Layers{
        first, std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(4, 1)});
  }

  void steps(int count) {
    for (int i = 0; i < count; ++i) {
      adam.zero_grad();
      nn::mse_loss((*model)(x), y).backward();
      adam.step();
      schedule.step();
    }
  }

  void save(const std::string& path) { training::save_checkpoint(path, *model, adam, &schedule); }
  void load(const std::string& path) { training::load_checkpoint(path, *model, adam, &schedule); }

  /// Everything a load may change.
  struct Everything {
    std::map<std::string, std::vector<double>> model, adam;
    Metadata options, schedule;
    bool operator==(const Everything&) const = default;
  };
  Everything everything() {
    return {values(model->state_dict()), values(adam.state_dict()), adam.options_dict(),
            schedule.state_dict()};
  }
};

}  // namespace

TEST_CASE("a training checkpoint resumes Adam and StepLR bit for bit", "[train]") {
  ScratchFile scratch;
  Training original(1);
  original.steps(3);
  original.save(scratch / "run.safetensors");
  original.steps(3);

  Training resumed(2);  // other initial weights, no optimizer state, epoch 0
  resumed.load(scratch / "run.safetensors");
  CHECK(resumed.schedule.last_epoch() == 3);
  resumed.steps(3);

  CHECK(values(resumed.model->state_dict()) == values(original.model->state_dict()));
  CHECK(values(resumed.adam.state_dict()) == values(original.adam.state_dict()));
  CHECK(resumed.adam.lr(0) == original.adam.lr(0));
  CHECK(resumed.adam.lr(0) == 0.05 * 0.5 * 0.5 * 0.5);  // epoch 6
  CHECK(resumed.schedule.state_dict() == original.schedule.state_dict());
}

TEST_CASE(
    "a training checkpoint's weights load alone without strict, its optimizer state reported as "
    "unexpected keys",
    "[train]") {
  ScratchFile scratch;
  Training original(1);
  original.steps(2);
  original.save(scratch / "run.safetensors");

  Training fresh(2);
  CHECK_THROWS_WITH(fresh.model->load(scratch / "run.safetensors"),
                    Contains("unexpected keys \"optimizer.state.0.exp_avg\""));
  const nn::IncompatibleKeys unmatched = fresh.model->load(scratch / "run.safetensors", false);
  CHECK(unmatched.missing_keys.empty());
  CHECK(unmatched.unexpected_keys.size() == 3 * original.adam.parameters().size());
  for (const std::string& key : unmatched.unexpected_keys)
    CHECK(key.starts_with("optimizer.state."));
  CHECK(values(fresh.model->state_dict()) == values(original.model->state_dict()));
}

TEST_CASE("a training checkpoint names its entries as torch does", "[train]") {
  ScratchFile scratch;
  Training run(1);
  run.steps(1);
  run.save(scratch / "run.safetensors");
  const nn::Checkpoint file = nn::read_safetensors(scratch / "run.safetensors");
  CHECK(file.tensors.at("0.weight.raw").shape() == Shape{4, 3});
  CHECK(file.tensors.at("optimizer.state.0.exp_avg").shape() == Shape{4, 3});  // "0.weight.raw"
  CHECK(file.tensors.at("optimizer.state.0.step").item<std::int64_t>() == 1);
  CHECK(file.metadata == Metadata{{"optimizer.type", "Adam"},
                                  {"optimizer.param_groups.0.lr", "0.05"},
                                  {"optimizer.param_groups.0.beta1", "0.9"},
                                  {"optimizer.param_groups.0.beta2", "0.999"},
                                  {"optimizer.param_groups.0.eps", "1e-08"},
                                  {"optimizer.param_groups.0.weight_decay", "0.01"},
                                  {"optimizer.param_groups.0.amsgrad", "false"},
                                  {"scheduler.type", "StepLR"},
                                  {"scheduler.last_epoch", "1"},
                                  {"scheduler.base_lrs.0", "0.05"},
                                  {"scheduler.last_lr.0", "0.05"}});
}

TEST_CASE("a reload restores a learning rate changed by hand", "[train]") {
  ScratchFile scratch;
  Training run(1);
  optim::AdamOptions changed = run.adam.options();
  changed.lr = 0.0123;
  changed.amsgrad = true;
  run.adam.set_options(0, changed);
  training::save_checkpoint(scratch / "run.safetensors", *run.model, run.adam);

  Training fresh(2);
  training::load_checkpoint(scratch / "run.safetensors", *fresh.model, fresh.adam);
  CHECK(fresh.adam.options().lr == 0.0123);
  CHECK(fresh.adam.options().amsgrad);
  CHECK(fresh.adam.options().weight_decay == 0.01);
}

TEST_CASE("a bad training checkpoint is a CheckpointError naming the key and changes nothing",
          "[train]") {
  ScratchFile scratch;
  Training source(1);
  source.steps(2);
  source.save(scratch / "good.safetensors");
  const nn::Checkpoint good = nn::read_safetensors(scratch / "good.safetensors");

  struct Case {
    const char* what;
    std::function<void(nn::Checkpoint&)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"non-numeric lr",
       [](nn::Checkpoint& c) { c.metadata["optimizer.param_groups.0.lr"] = "fast"; },
       "optimizer.param_groups.*: Adam.load_options_dict: key \"0.lr\" is \"fast\", expected a "
       "finite number"},
      {"missing option",
       [](nn::Checkpoint& c) { c.metadata.erase("optimizer.param_groups.0.eps"); },
       "key \"0.eps\" is missing"},
      {"a second group",
       [](nn::Checkpoint& c) { c.metadata["optimizer.param_groups.1.lr"] = "0.1"; },
       "unexpected key \"1.lr\" (Adam has 1 parameter group)"},
      {"an option Adam refuses",
       [](nn::Checkpoint& c) { c.metadata["optimizer.param_groups.0.beta1"] = "1"; },
       "Adam: betas must lie in [0, 1), got (1, 0.999)"},
      {"a flag that is no flag",
       [](nn::Checkpoint& c) { c.metadata["optimizer.param_groups.0.amsgrad"] = "1"; },
       "key \"0.amsgrad\" is \"1\", expected true or false"},
      {"another optimizer", [](nn::Checkpoint& c) { c.metadata["optimizer.type"] = "SGD"; },
       "metadata key \"optimizer.type\" is \"SGD\", but the checkpoint is loaded into a Adam"},
      {"no scheduler", [](nn::Checkpoint& c) { c.metadata.erase("scheduler.type"); },
       "metadata key \"scheduler.type\" is missing"},
      {"a negative epoch", [](nn::Checkpoint& c) { c.metadata["scheduler.last_epoch"] = "-3"; },
       "scheduler.*: StepLR.load_state_dict: key \"last_epoch\" is \"-3\", expected an integer "
       ">= 0"},
      {"a base lr per group too many",
       [](nn::Checkpoint& c) { c.metadata["scheduler.base_lrs.1"] = "0.1"; },
       "unexpected key \"base_lrs.1\""},
      {"an unknown optimizer key",
       [](nn::Checkpoint& c) { c.metadata["optimizer.momentum"] = "0.9"; },
       "unexpected metadata key \"optimizer.momentum\""},
      {"a moment of the wrong shape",
       [](nn::Checkpoint& c) { c.tensors["optimizer.state.1.exp_avg"] = zeros({3}); },
       "optimizer.state.*: Adam.load_state_dict: key \"1.exp_avg\" has shape [3], parameter 1 "
       "has shape [4]"},
      {"a missing weight", [](nn::Checkpoint& c) { c.tensors.erase("2.bias"); },
       "the module's keys: load_state_dict: missing key \"2.bias\""},
  };
  for (const Case& bad : cases) {
    INFO(bad.what);
    nn::Checkpoint spoilt = good;
    bad.spoil(spoilt);
    const std::string path = scratch / "bad.safetensors";
    nn::save_safetensors(path, spoilt.tensors, spoilt.metadata);

    Training target(2);
    target.steps(1);
    const Training::Everything before = target.everything();
    CHECK_THROWS_AS(target.load(path), nn::CheckpointError);
    CHECK_THROWS_WITH(target.load(path), Contains(path) && Contains(bad.message));
    CHECK(target.everything() == before);
  }
}
