// Captured training steps: record one step's kernels once, replay them with no
// graph building, no op dispatch and no tensor allocation.
//
//   Tensor x = zeros({128, 64}), y = zeros({128}, DType::i64);  // static inputs
//   CapturedStep step = capture({x, y}, [&] {
//     opt.zero_grad();
//     Tensor loss = nn::cross_entropy(model(x), y);
//     loss.backward();
//     opt.step();
//     return loss;
//   });
//   Tensor loss = step(images, labels);  // copies into x and y, replays
//
// capture() runs the step once, eagerly (that run is a real training step),
// with every kernel call on this thread recorded together with the tensors it
// reads and writes; the recording keeps the memory those tensors need, so a
// replay writes buffers it owns and allocates nothing. The step's temporaries
// share one arena, and kernels that compute the same values at every replay
// run only at the capture. What the host decides during the step must not
// depend on tensor data (see the rules on CapturedStep).
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "tether/error.h"
#include "tether/tensor.h"

namespace tether {

/// A captured step refused something it cannot replay faithfully: a read of
/// tensor data by the host inside the step, a random draw it cannot repeat,
/// or replay inputs unlike the captured ones (those are ShapeError, DTypeError
/// or DeviceError, which a CaptureError is not).
class CaptureError : public Error {
 public:
  using Error::Error;
};

namespace detail {
struct Tape;
}

/// A recorded step. Replaying runs, in order, the kernels the capture ran and
/// the host actions registered during it (an optimizer's step, a random
/// draw), then bumps the version counter of every tensor the step wrote in
/// place as often as the eager step did, so computed parameters' caches and
/// autograd's checks see what they would have seen after eager steps.
///
/// A replay repeats the captured run's host decisions: its shapes, branches,
/// grad mode and train/eval mode, the parameters and buffers it used. Host
/// state the step advances goes through host actions: optimizers' zero_grad
/// and step (their step counts and learning rates, which a scheduler may
/// change between replays, are read at each replay), the handing of each
/// leaf its grad() by backward, and rand/randn (and Dropout, which uses
/// rand), which draw fresh numbers from the global generator as eager steps
/// would. Gradient hooks do not run again: the tensor ops they ran are
/// replayed, their host side effects are not. Everything the closure
/// referenced must outlive the CapturedStep.
class CapturedStep {
 public:
  /// Copies `inputs[i]` into the i-th static input given to capture (each
  /// must have its shape, dtype and device: a ShapeError, DTypeError or
  /// DeviceError naming capture otherwise, and nothing runs), then replays.
  /// No inputs: replays on the static inputs as they are. Returns the
  /// tensor the step returned, holding this replay's value.
  Tensor operator()(std::span<const Tensor> inputs) const;
  Tensor operator()(const std::vector<Tensor>& inputs) const {
    return (*this)(std::span<const Tensor>(inputs));
  }
  template <std::convertible_to<Tensor>... Inputs>
  Tensor operator()(const Inputs&... inputs) const {
    const std::array<Tensor, sizeof...(Inputs)> all{Tensor(inputs)...};
    return (*this)(std::span<const Tensor>(all));
  }
  /// The number of kernel calls and host actions a replay runs.
  std::size_t size() const;

 private:
  friend CapturedStep capture(std::vector<Tensor>, const std::function<Tensor()>&);
  explicit CapturedStep(std::shared_ptr<detail::Tape> tape) : tape_(std::move(tape)) {}
  std::shared_ptr<detail::Tape> tape_;
};

/// Runs `step` once, eagerly, recording it (see CapturedStep). `static_inputs`
/// are the tensors replays copy their inputs into; `step` reads them
/// directly. Inside `step`, reading tensor data to the host (item(),
/// to_vector, printing, masked_select, allclose, clip_grad_norm_, a check of
/// an op that reads data) and integer random draws (randint, randperm,
/// bernoulli, multinomial) throw CaptureError naming what happened: the
/// replay could not repeat a decision the host took from the data. Errors a
/// kernel reports itself (a non-positive-definite matrix in cholesky, an
/// index out of range) are raised again at the replay that meets them.
/// Capturing inside a capture is a CaptureError. The state the eager run
/// left stands when `step` throws.
///
/// Computed parameters whose cache is valid when the capture starts compute
/// again inside it, and projected parameters project again, so that the
/// computation is recorded rather than baked in as a constant: the captured
/// run then does what every later eager step does (for spectral norm, one
/// more power iteration than an eager step at that point would run).
CapturedStep capture(std::vector<Tensor> static_inputs, const std::function<Tensor()>& step);
CapturedStep capture(const std::function<Tensor()>& step);

// ---- for code that keeps host state across steps (optim/, constraints/) ----

/// Whether this thread is recording a capture now (host actions run unrecorded).
bool is_capturing();
/// Which capture this thread is recording (0: none); each capture has its
/// own. A cache computed under another id must be recomputed while
/// capturing, so that the computation is part of the recording.
std::uint64_t capture_id();
namespace detail {
void keep_host_action(std::function<void()> action);
/// The references to `storage` that the capture recording on this thread
/// holds (0 when none): handles on the memory its kernels use, not owners.
/// Code that takes over a buffer nobody else refers to (autograd's gradient
/// accumulation) discounts them, so that a captured step reuses buffers as
/// the eager step does instead of copying them.
long capture_references(const Storage& storage);
}  // namespace detail
/// Runs `action` now; while capturing, it runs unrecorded and again at this
/// point of every replay. For host state a step advances: an optimizer's
/// step count, a random generator, a leaf's grad() handle.
template <class Action>
void host_action(Action action) {
  if (is_capturing())
    detail::keep_host_action(std::move(action));
  else
    action();
}
/// Throws CaptureError when capturing: "capture: <what> inside a captured
/// step ...". Called where the host reads tensor data or draws random
/// numbers a replay would not draw again.
void refuse_in_capture(const char* what);

}  // namespace tether
