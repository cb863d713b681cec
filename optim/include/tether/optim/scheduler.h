// Learning-rate schedulers: each sets the learning rate of every parameter
// group of one optimizer, once per epoch, as torch.optim.lr_scheduler's.
//
//   optim::SGD sgd(model.parameters(), {.lr = 0.1});
//   optim::CosineAnnealingLR schedule(sgd, {.T_max = 100});
//   for (epoch...) { train_one_epoch(sgd); schedule.step(); }
//
// Each scheduler takes its options as a struct, as the optimizers do (torch's
// keyword arguments); an option without a default must be given.
//
// state_dict() is what changes while training (the epoch, the plateau's best
// metric...), as text; tether/train/checkpoint.h saves it with the model.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tether/optim/optimizer.h"

namespace tether::optim {

/// What every scheduler shares: the learning rates it last set, and its state
/// for a checkpoint. Its hyper-parameters (gamma, patience, ...) are the
/// constructor's and not part of the state: build the same scheduler, then load.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// "StepLR", ...: what errors start with.
  const std::string& name() const { return name_; }
  /// Each group's learning rate as the scheduler last set it (initially, as found).
  const std::vector<double>& last_lr() const { return last_lr_; }

  /// The state as "<name>" -> text that reads back exactly, lists as
  /// "<name>.<group>": LRScheduler's "last_epoch", "base_lrs.<g>" (each
  /// group's initial lr) and "last_lr.<g>"; ReduceLROnPlateau's "best",
  /// "num_bad_epochs", "cooldown_counter" and "last_lr.<g>" (torch's names).
  virtual Metadata state_dict() const = 0;
  /// Restores what state_dict() wrote. Checks everything first and changes
  /// nothing when something is wrong: a ValueError naming the key for a missing
  /// or unexpected key (one per group of the optimizer), or text that is not a
  /// number in range. The optimizer's learning rates stay: they are its options.
  virtual void load_state_dict(const Metadata& state) = 0;
  /// Throws what load_state_dict(state) would, and changes nothing.
  virtual void check_state_dict(const Metadata& state) const = 0;

 protected:
  /// The optimizer must outlive the scheduler.
  Scheduler(std::string name, Optimizer& optimizer);
  /// Reads "<key>.<group>" for each of the optimizer's groups.
  std::vector<double> read_list(detail::MetadataReader& reader, const std::string& key) const;
  /// Writes `values` as "<key>.<group>".
  static void write_list(Metadata& state, const std::string& key,
                         const std::vector<double>& values);

  Optimizer& optimizer_;
  std::vector<double> last_lr_;

 private:
  std::string name_;
};

/// A schedule whose learning rate is a closed form of the epoch count t and
/// each group's learning rate when the scheduler was built (its initial lr).
/// Being a closed form, it overrides lr changes made by anyone else.
class LRScheduler : public Scheduler {
 public:
  /// Advances t by one and sets every group's learning rate to lr_at(initial, t)
  /// through the optimizer's set_lr, which refuses one that overflowed to
  /// infinity (a ValueError).
  void step();
  /// Epochs stepped so far (t).
  std::int64_t last_epoch() const { return epoch_; }

  Metadata state_dict() const override;
  void load_state_dict(const Metadata& state) override;
  void check_state_dict(const Metadata& state) const override { loaded_state(state); }

 protected:
  LRScheduler(std::string name, Optimizer& optimizer);
  virtual double lr_at(double initial_lr, std::int64_t epoch) const = 0;

 private:
  struct State {
    std::int64_t epoch;
    std::vector<double> initial_lrs, last_lr;
  };
  State loaded_state(const Metadata& state) const;

  std::vector<double> initial_lrs_;
  std::int64_t epoch_ = 0;
};

struct StepLROptions {
  std::int64_t step_size = 0;  ///< epochs between two decays; required, >= 1
  double gamma = 0.1;          ///< the factor of each decay; finite and > 0
};

/// lr_t = initial * gamma^floor(t / step_size).
class StepLR final : public LRScheduler {
 public:
  /// Throws ValueError for options outside the ranges StepLROptions states.
  StepLR(Optimizer& optimizer, StepLROptions options);
  const StepLROptions& options() const { return options_; }

 private:
  double lr_at(double initial_lr, std::int64_t epoch) const override;
  StepLROptions options_;
};

struct ExponentialLROptions {
  double gamma = 0;  ///< the factor of each epoch; required, finite and > 0
};

/// lr_t = initial * gamma^t.
class ExponentialLR final : public LRScheduler {
 public:
  /// Throws ValueError for options outside the ranges ExponentialLROptions states.
  ExponentialLR(Optimizer& optimizer, ExponentialLROptions options);
  const ExponentialLROptions& options() const { return options_; }

 private:
  double lr_at(double initial_lr, std::int64_t epoch) const override;
  ExponentialLROptions options_;
};

struct CosineAnnealingLROptions {
  std::int64_t T_max = 0;  ///< epochs from the initial lr down to eta_min; required, >= 1
  double eta_min = 0;      ///< the lowest lr; finite and >= 0
};

/// lr_t = eta_min + (initial - eta_min) (1 + cos(pi t / T_max)) / 2: half a
/// cosine from the initial lr down to eta_min at t = T_max (Loshchilov and
/// Hutter's SGDR without restarts); past T_max it rises again.
class CosineAnnealingLR final : public LRScheduler {
 public:
  /// Throws ValueError for options outside the ranges CosineAnnealingLROptions states.
  CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options);
  const CosineAnnealingLROptions& options() const { return options_; }

 private:
  double lr_at(double initial_lr, std::int64_t epoch) const override;
  CosineAnnealingLROptions options_;
};

struct ReduceLROnPlateauOptions {
  enum class Mode { min, max };
  Mode mode = Mode::min;  ///< whether the metric should fall (a loss) or rise (an accuracy)
  double factor = 0.1;    ///< lr *= factor on a plateau; in (0, 1)
  /// Epochs without improvement tolerated; the next one reduces the lr.
  std::int64_t patience = 10;
  /// Relative improvement that counts: below best (1 - threshold) in min
  /// mode, above best (1 + threshold) in max mode.
  double threshold = 1e-4;
  std::int64_t cooldown = 0;  ///< epochs after a reduction during which none is counted
  double min_lr = 0;          ///< no group's lr goes below this
  double eps = 1e-8;          ///< a reduction smaller than this is skipped
};

/// Reduces every group's learning rate by `factor` when a metric has stopped
/// improving for more than `patience` epochs, as torch's ReduceLROnPlateau.
class ReduceLROnPlateau final : public Scheduler {
 public:
  /// Throws ValueError for a factor outside (0, 1) or a negative patience,
  /// cooldown, or a threshold, min_lr or eps that is not a finite number >= 0.
  /// The optimizer must outlive this.
  ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  const ReduceLROnPlateauOptions& options() const { return options_; }
  /// Records one epoch's metric and reduces the learning rates if it is time.
  void step(double metric);
  /// The best metric so far (+inf in min mode before any step, -inf in max).
  double best() const { return best_; }

  Metadata state_dict() const override;
  void load_state_dict(const Metadata& state) override;
  void check_state_dict(const Metadata& state) const override { loaded_state(state); }

 private:
  struct State {
    double best;
    std::int64_t bad_epochs, cooldown_left;
    std::vector<double> last_lr;
  };
  State loaded_state(const Metadata& state) const;
  bool improves(double metric) const;

  ReduceLROnPlateauOptions options_;
  double best_;
  std::int64_t bad_epochs_ = 0, cooldown_left_ = 0;
};

}  // namespace tether::optim
