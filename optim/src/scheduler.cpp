#include "tether/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tether/error.h"

namespace tether::optim {

namespace {

std::vector<double> group_lrs(const Optimizer& optimizer) {
  std::vector<double> lrs(optimizer.group_count());
  for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = optimizer.lr(g);
  return lrs;
}

/// Throws ValueError "<scheduler>: <what>, got <value>" unless `ok`.
template <class T>
void require(const char* scheduler, bool ok, const char* what, T value) {
  if (!ok) fail<ValueError>(scheduler, ": ", what, ", got ", value);
}

bool finite_positive(double value) {
  return value > 0 && std::isfinite(value);
}
bool finite_non_negative(double value) {
  return value >= 0 && std::isfinite(value);
}

// One check per options struct, the only place its ranges are enforced.

const StepLROptions& checked(const StepLROptions& options) {
  require("StepLR", options.step_size >= 1, "step_size must be >= 1", options.step_size);
  require("StepLR", finite_positive(options.gamma), "gamma must be a finite number > 0",
          options.gamma);
  return options;
}

const ExponentialLROptions& checked(const ExponentialLROptions& options) {
  require("ExponentialLR", finite_positive(options.gamma), "gamma must be a finite number > 0",
          options.gamma);
  return options;
}

const CosineAnnealingLROptions& checked(const CosineAnnealingLROptions& options) {
  require("CosineAnnealingLR", options.T_max >= 1, "T_max must be >= 1", options.T_max);
  require("CosineAnnealingLR", finite_non_negative(options.eta_min),
          "eta_min must be a finite number >= 0", options.eta_min);
  return options;
}

const ReduceLROnPlateauOptions& checked(const ReduceLROnPlateauOptions& options) {
  const char* const name = "ReduceLROnPlateau";
  require(name, options.factor > 0 && options.factor < 1, "factor must lie in (0, 1)",
          options.factor);
  require(name, options.patience >= 0, "patience must be >= 0", options.patience);
  require(name, finite_non_negative(options.threshold), "threshold must be a finite number >= 0",
          options.threshold);
  require(name, options.cooldown >= 0, "cooldown must be >= 0", options.cooldown);
  require(name, finite_non_negative(options.min_lr), "min_lr must be a finite number >= 0",
          options.min_lr);
  require(name, finite_non_negative(options.eps), "eps must be a finite number >= 0", options.eps);
  return options;
}

}  // namespace

Scheduler::Scheduler(std::string name, Optimizer& optimizer)
    : optimizer_(optimizer), last_lr_(group_lrs(optimizer)), name_(std::move(name)) {}

std::vector<double> Scheduler::read_list(detail::MetadataReader& reader,
                                         const std::string& key) const {
  return reader.list(key, optimizer_.group_count());
}

void Scheduler::write_list(Metadata& state, const std::string& key,
                           const std::vector<double>& values) {
  for (std::size_t g = 0; g < values.size(); ++g)
    state[key + "." + std::to_string(g)] = detail::to_text(values[g]);
}

LRScheduler::LRScheduler(std::string name, Optimizer& optimizer)
    : Scheduler(std::move(name), optimizer), initial_lrs_(last_lr_) {}

Metadata LRScheduler::state_dict() const {
  Metadata state{{"last_epoch", detail::to_text(epoch_)}};
  write_list(state, "base_lrs", initial_lrs_);
  write_list(state, "last_lr", last_lr_);
  return state;
}

LRScheduler::State LRScheduler::loaded_state(const Metadata& text) const {
  detail::MetadataReader reader(text, name() + ".load_state_dict");
  // Braced: the reads run in this order, and so the first bad key is reported.
  State state{reader.count("last_epoch"), read_list(reader, "base_lrs"),
              read_list(reader, "last_lr")};
  reader.finish();
  return state;
}

void LRScheduler::load_state_dict(const Metadata& text) {
  State state = loaded_state(text);
  epoch_ = state.epoch;
  initial_lrs_ = std::move(state.initial_lrs);
  last_lr_ = std::move(state.last_lr);
}

void LRScheduler::step() {
  ++epoch_;
  for (std::size_t g = 0; g < initial_lrs_.size(); ++g) {
    last_lr_[g] = lr_at(initial_lrs_[g], epoch_);
    optimizer_.set_lr(g, last_lr_[g]);
  }
}

StepLR::StepLR(Optimizer& optimizer, StepLROptions options)
    : LRScheduler("StepLR", optimizer), options_(checked(options)) {}

double StepLR::lr_at(double initial_lr, std::int64_t epoch) const {
  return initial_lr * std::pow(options_.gamma, static_cast<double>(epoch / options_.step_size));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, ExponentialLROptions options)
    : LRScheduler("ExponentialLR", optimizer), options_(checked(options)) {}

double ExponentialLR::lr_at(double initial_lr, std::int64_t epoch) const {
  return initial_lr * std::pow(options_.gamma, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options)
    : LRScheduler("CosineAnnealingLR", optimizer), options_(checked(options)) {}

double CosineAnnealingLR::lr_at(double initial_lr, std::int64_t epoch) const {
  const double phase =
      std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(options_.T_max);
  return options_.eta_min + (initial_lr - options_.eta_min) * (1 + std::cos(phase)) / 2;
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options)
    : Scheduler("ReduceLROnPlateau", optimizer),
      options_(checked(options)),
      best_(options.mode == ReduceLROnPlateauOptions::Mode::min
                ? std::numeric_limits<double>::infinity()
                : -std::numeric_limits<double>::infinity()) {}

Metadata ReduceLROnPlateau::state_dict() const {
  Metadata state{{"best", detail::to_text(best_)},
                 {"num_bad_epochs", detail::to_text(bad_epochs_)},
                 {"cooldown_counter", detail::to_text(cooldown_left_)}};
  write_list(state, "last_lr", last_lr_);
  return state;
}

ReduceLROnPlateau::State ReduceLROnPlateau::loaded_state(const Metadata& text) const {
  detail::MetadataReader reader(text, name() + ".load_state_dict");
  // best is +-inf until the first step.
  State state{reader.number("best", true), reader.count("num_bad_epochs"),
              reader.count("cooldown_counter"), read_list(reader, "last_lr")};
  reader.finish();
  return state;
}

void ReduceLROnPlateau::load_state_dict(const Metadata& text) {
  State state = loaded_state(text);
  best_ = state.best;
  bad_epochs_ = state.bad_epochs;
  cooldown_left_ = state.cooldown_left;
  last_lr_ = std::move(state.last_lr);
}

bool ReduceLROnPlateau::improves(double metric) const {
  if (options_.mode == ReduceLROnPlateauOptions::Mode::min)
    return metric < best_ * (1 - options_.threshold);
  return metric > best_ * (1 + options_.threshold);
}

void ReduceLROnPlateau::step(double metric) {
  if (improves(metric)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  // Right after a reduction the metric needs time to react to the new lr:
  // epochs in cooldown never count as bad.
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > options_.patience) {
    for (std::size_t g = 0; g < optimizer_.group_count(); ++g) {
      const double old_lr = optimizer_.lr(g);
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) optimizer_.set_lr(g, new_lr);
    }
    cooldown_left_ = options_.cooldown;
    bad_epochs_ = 0;
  }
  last_lr_ = group_lrs(optimizer_);
}

}  // namespace tether::optim
