// Captured steps: a Backend that records. Every op calls exactly one backend
// per kernel through backend_for, so installing a recorder as this thread's
// interceptor sees every kernel of the step with its arguments; the recorder
// runs each call on the device's own backend (the capture is an eager step)
// and keeps a closure bound to the same tensors. Those closures hold the
// tensors' storages, so a replay writes the memory the capture wrote and
// allocates nothing; no graph is built because no op runs.
#include "tether/capture.h"

#include <atomic>
#include <initializer_list>
#include <unordered_map>
#include <utility>

#include "tether/backend/backend.h"

namespace tether {

namespace detail {

/// What a replay runs: the recorded kernels and host actions in order, then
/// the version bumps (storage, how many) the eager step made.
struct Tape {
  std::vector<std::function<void()>> entries;
  std::vector<std::pair<std::shared_ptr<Storage>, std::uint64_t>> bumps;
  std::vector<Tensor> inputs;
  Tensor result;
};

}  // namespace detail

namespace {

using backend::Backend;

/// A storage some kernel wrote: its version when first written and the bumps
/// made by host actions (which bump it again themselves on replay).
struct Written {
  std::shared_ptr<Storage> storage;
  std::uint64_t first_version;
  std::uint64_t bumped_by_host = 0;
};

/// The tape being written and the storages its kernels write.
class Log {
 public:
  explicit Log(detail::Tape& tape) : tape_(tape) {}

  /// Appends `replay` to the tape, noting the storages it writes.
  void keep(std::initializer_list<const Tensor*> writes, std::function<void()> replay) {
    for (const Tensor* t : writes) {
      if (!t->defined()) continue;  // an output the kernel was not asked for
      const std::shared_ptr<Storage>& storage = t->storage();
      if (index_.emplace(storage.get(), written_.size()).second)
        written_.push_back({storage, storage->version()});
    }
    tape_.entries.push_back(std::move(replay));
  }

  /// Runs `action` (recording is off) and appends it to the tape; bumps it
  /// makes to written storages are its own, repeated when it runs again.
  void keep_host_action(std::function<void()> action) {
    std::vector<std::uint64_t> before;
    before.reserve(written_.size());
    for (const Written& w : written_) before.push_back(w.storage->version());
    action();
    for (std::size_t i = 0; i < before.size(); ++i)
      written_[i].bumped_by_host += written_[i].storage->version() - before[i];
    tape_.entries.push_back(std::move(action));
  }

  /// Ends the tape with the in-place bumps the eager step made to each
  /// storage kernels wrote.
  void finish() {
    for (const Written& w : written_) {
      const std::uint64_t bumps = w.storage->version() - w.first_version - w.bumped_by_host;
      if (bumps > 0) tape_.bumps.emplace_back(w.storage, bumps);
    }
  }

 private:
  detail::Tape& tape_;
  std::vector<Written> written_;
  std::unordered_map<const Storage*, std::size_t> index_;
};

/// One device's recording backend: runs each call on the device's own
/// backend and keeps it, bound to its tensors, in the log.
class Recording final : public Backend {
 public:
  Recording(Device device, Log& log) : device_(device), log_(log) {}

  Device device() const { return device_; }

  void fill(const Tensor& out, double value) override {
    record({&out}, [out = held(out), value](Backend& b) { b.fill(out, value); });
  }
  void copy(const Tensor& src, const Tensor& dst) override {
    record({&dst}, [src = held(src), dst = held(dst)](Backend& b) { b.copy(src, dst); });
  }
  void unary(backend::UnaryOp op, const Tensor& in, const Tensor& out,
             backend::UnaryParams params) override {
    record({&out}, [op, in = held(in), out = held(out), params](Backend& b) {
      b.unary(op, in, out, params);
    });
  }
  void binary(backend::BinaryOp op, const Tensor& a, const Tensor& b_, const Tensor& out) override {
    record({&out}, [op, a = held(a), b_ = held(b_), out = held(out)](Backend& b) {
      b.binary(op, a, b_, out);
    });
  }
  void where(const Tensor& cond, const Tensor& a, const Tensor& b_, const Tensor& out) override {
    record({&out}, [cond = held(cond), a = held(a), b_ = held(b_), out = held(out)](Backend& b) {
      b.where(cond, a, b_, out);
    });
  }
  void reduce(backend::ReduceOp op, const Tensor& in, std::uint32_t mask,
              const Tensor& out) override {
    record({&out},
           [op, in = held(in), mask, out = held(out)](Backend& b) { b.reduce(op, in, mask, out); });
  }
  void argmax(const Tensor& in, int dim, const Tensor& out) override {
    record({&out}, [in = held(in), dim, out = held(out)](Backend& b) { b.argmax(in, dim, out); });
  }
  void argmin(const Tensor& in, int dim, const Tensor& out) override {
    record({&out}, [in = held(in), dim, out = held(out)](Backend& b) { b.argmin(in, dim, out); });
  }
  void im2col(const Tensor& in, const backend::ConvGeometry& geometry, const Tensor& out) override {
    record({&out},
           [in = held(in), geometry, out = held(out)](Backend& b) { b.im2col(in, geometry, out); });
  }
  void col2im(const Tensor& columns, const backend::ConvGeometry& geometry,
              const Tensor& out) override {
    record({&out}, [columns = held(columns), geometry, out = held(out)](Backend& b) {
      b.col2im(columns, geometry, out);
    });
  }
  void conv2d(const Tensor& in, const Tensor& weight, const Tensor& bias,
              const backend::ConvGeometry& geometry, std::int64_t groups,
              const Tensor& out) override {
    record({&out},
           [in = held(in), weight = held(weight), bias = held(bias), geometry, groups,
            out = held(out)](Backend& b) { b.conv2d(in, weight, bias, geometry, groups, out); });
  }
  void conv2d_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                       const backend::ConvGeometry& geometry, std::int64_t groups,
                       const Tensor& grad_in, const Tensor& grad_weight,
                       const Tensor& grad_bias) override {
    record({&grad_in, &grad_weight, &grad_bias},
           [grad_out = held(grad_out), in = held(in), weight = held(weight), geometry, groups,
            grad_in = held(grad_in), grad_weight = held(grad_weight),
            grad_bias = held(grad_bias)](Backend& b) {
             b.conv2d_backward(grad_out, in, weight, geometry, groups, grad_in, grad_weight,
                               grad_bias);
           });
  }
  void max_pool2d(const Tensor& in, const backend::ConvGeometry& geometry, const Tensor& out,
                  const Tensor& indices) override {
    record({&out, &indices}, [in = held(in), geometry, out = held(out), indices = held(indices)](
                                 Backend& b) { b.max_pool2d(in, geometry, out, indices); });
  }
  void batch_norm(const Tensor& in, const Tensor& weight, const Tensor& bias, double eps,
                  const Tensor& out, const Tensor& mean, const Tensor& var) override {
    record({&out, &mean, &var}, [in = held(in), weight = held(weight), bias = held(bias), eps,
                                 out = held(out), mean = held(mean), var = held(var)](Backend& b) {
      b.batch_norm(in, weight, bias, eps, out, mean, var);
    });
  }
  void batch_norm_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                           const Tensor& mean, const Tensor& var, double eps, const Tensor& grad_in,
                           const Tensor& grad_weight, const Tensor& grad_bias) override {
    record({&grad_in, &grad_weight, &grad_bias},
           [grad_out = held(grad_out), in = held(in), weight = held(weight), mean = held(mean),
            var = held(var), eps, grad_in = held(grad_in), grad_weight = held(grad_weight),
            grad_bias = held(grad_bias)](Backend& b) {
             b.batch_norm_backward(grad_out, in, weight, mean, var, eps, grad_in, grad_weight,
                                   grad_bias);
           });
  }
  void matmul(const Tensor& a, const Tensor& b_, const Tensor& out) override {
    record({&out},
           [a = held(a), b_ = held(b_), out = held(out)](Backend& b) { b.matmul(a, b_, out); });
  }
  void index_select(const Tensor& in, int dim, const Tensor& index, const Tensor& out) override {
    record({&out}, [in = held(in), dim, index = held(index), out = held(out)](Backend& b) {
      b.index_select(in, dim, index, out);
    });
  }
  void index_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) override {
    record({&out}, [out = held(out), dim, index = held(index), src = held(src)](Backend& b) {
      b.index_add(out, dim, index, src);
    });
  }
  void gather(const Tensor& in, int dim, const Tensor& index, const Tensor& out) override {
    record({&out}, [in = held(in), dim, index = held(index), out = held(out)](Backend& b) {
      b.gather(in, dim, index, out);
    });
  }
  void scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) override {
    record({&out}, [out = held(out), dim, index = held(index), src = held(src)](Backend& b) {
      b.scatter_add(out, dim, index, src);
    });
  }
  std::optional<backend::NotPositiveDefinite> cholesky(const Tensor& in,
                                                       const Tensor& out) override {
    // The op turns a failure into an error at capture; a replay that meets
    // one raises it too, instead of going on with an unspecified factor.
    Backend& device = backend::device_backend(device_);
    const auto failure = device.cholesky(in, out);
    log_.keep({&out}, [&device, in = held(in), out = held(out)] {
      if (const auto failed = device.cholesky(in, out))
        fail<LinAlgError>("capture: replay: cholesky: the leading minor of order ", failed->order,
                          " of matrix ", failed->batch, " is not positive definite");
    });
    return failure;
  }
  void solve_triangular(const Tensor& a, const Tensor& rhs, const Tensor& out,
                        backend::TriangularSystem system) override {
    record({&out}, [a = held(a), rhs = held(rhs), out = held(out), system](Backend& b) {
      b.solve_triangular(a, rhs, out, system);
    });
  }
  void scan(backend::ScanOp op, const Tensor& in, int dim, bool reverse,
            const Tensor& out) override {
    record({&out}, [op, in = held(in), dim, reverse, out = held(out)](Backend& b) {
      b.scan(op, in, dim, reverse, out);
    });
  }
  void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const AdamStep& step) override {
    record({&param, &exp_avg, &exp_avg_sq},
           [param = held(param), grad = held(grad), exp_avg = held(exp_avg),
            exp_avg_sq = held(exp_avg_sq),
            step](Backend& b) { b.adam_step(param, grad, exp_avg, exp_avg_sq, step); });
  }
  void sort(const Tensor& in, int dim, std::int64_t k, bool descending, const Tensor& values,
            const Tensor& indices) override {
    record({&values, &indices},
           [in = held(in), dim, k, descending, values = held(values), indices = held(indices)](
               Backend& b) { b.sort(in, dim, k, descending, values, indices); });
  }
  void multinomial(const Tensor& probs, const Tensor& uniforms, bool replacement,
                   const Tensor& out) override {
    record({&out}, [probs = held(probs), uniforms = held(uniforms), replacement, out = held(out)](
                       Backend& b) { b.multinomial(probs, uniforms, replacement, out); });
  }

  /// An alias of `t` without its autograd fields, so the recording holds the
  /// memory but no graph; undefined for an undefined `t` (an optional operand).
  static Tensor held(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

  /// Runs `call` on the device's backend now and keeps it for replay.
  template <class Call>
  void record(std::initializer_list<const Tensor*> writes, Call call) {
    Backend& device = backend::device_backend(device_);
    call(device);
    log_.keep(writes, [&device, call = std::move(call)] { call(device); });
  }

  Device device_;
  Log& log_;
};

/// A capture in progress on one thread: the interceptor that hands out a
/// Recording per device, and the log they share.
class Recorder final : public backend::Interceptor {
 public:
  explicit Recorder(detail::Tape& tape) : log_(tape) {}

  Backend& backend_for(Device device) override {
    for (const auto& recording : recordings_)
      if (recording->device() == device) return *recording;
    return *recordings_.emplace_back(std::make_unique<Recording>(device, log_));
  }

  std::uint64_t id() const { return id_; }
  bool paused() const { return paused_; }
  Log& log() { return log_; }

  /// Runs `action` with recording off and keeps it as a host action.
  void keep_host_action(std::function<void()> action) {
    backend::set_thread_interceptor(nullptr);
    paused_ = true;
    struct Resume {
      Recorder& recorder;
      ~Resume() {
        recorder.paused_ = false;
        backend::set_thread_interceptor(&recorder);
      }
    } resume{*this};
    log_.keep_host_action(std::move(action));
  }

 private:
  static inline std::atomic<std::uint64_t> next_id_{1};
  Log log_;
  std::vector<std::unique_ptr<Recording>> recordings_;
  std::uint64_t id_ = next_id_++;
  bool paused_ = false;
};

thread_local Recorder* recording = nullptr;

void check_input(std::size_t i, const Tensor& given, const Tensor& captured) {
  if (!given.defined())
    fail<ValueError>("capture: replay input ", i, " is undefined; the step was captured with ",
                     captured.shape());
  if (given.shape() != captured.shape())
    fail<ShapeError>("capture: replay input ", i, " has shape ", given.shape(),
                     ", the step was captured with ", captured.shape(),
                     "; capture the step again for a new shape");
  if (given.dtype() != captured.dtype())
    fail<DTypeError>("capture: replay input ", i, " has dtype ", given.dtype(),
                     ", the step was captured with ", captured.dtype());
  if (given.device() != captured.device())
    fail<DeviceError>("capture: replay input ", i, " is on ", given.device(),
                      ", the step was captured on ", captured.device());
}

}  // namespace

bool is_capturing() {
  return recording != nullptr && !recording->paused();
}

std::uint64_t capture_id() {
  return recording != nullptr ? recording->id() : 0;
}

void detail::keep_host_action(std::function<void()> action) {
  recording->keep_host_action(std::move(action));
}

void refuse_in_capture(const char* what) {
  if (is_capturing())
    fail<CaptureError>(
        "capture: ", what,
        " inside a captured step: a replay cannot repeat what the host decides "
        "from tensor data or draws; move it out of the step or run the step eagerly");
}

CapturedStep capture(std::vector<Tensor> static_inputs, const std::function<Tensor()>& step) {
  if (recording != nullptr) fail<CaptureError>("capture: already capturing a step on this thread");
  for (std::size_t i = 0; i < static_inputs.size(); ++i)
    if (!static_inputs[i].defined()) fail<ValueError>("capture: static input ", i, " is undefined");
  auto tape = std::make_shared<detail::Tape>();
  tape->inputs = std::move(static_inputs);
  Recorder recorder(*tape);
  struct Stop {
    ~Stop() {
      recording = nullptr;
      backend::set_thread_interceptor(nullptr);
    }
  } stop;
  recording = &recorder;
  backend::set_thread_interceptor(&recorder);
  const Tensor result = step();
  recorder.log().finish();
  if (result.defined()) tape->result = result.detach();
  return CapturedStep(std::move(tape));
}

CapturedStep capture(const std::function<Tensor()>& step) {
  return capture({}, step);
}

Tensor CapturedStep::operator()(std::span<const Tensor> inputs) const {
  if (!inputs.empty()) {
    if (inputs.size() != tape_->inputs.size())
      fail<ValueError>("capture: replay given ", inputs.size(),
                       " inputs, the step was captured with ", tape_->inputs.size(),
                       " static inputs");
    for (std::size_t i = 0; i < inputs.size(); ++i) check_input(i, inputs[i], tape_->inputs[i]);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& target = tape_->inputs[i];
      if (inputs[i].storage() == target.storage()) continue;
      backend::device_backend(target.device()).copy(inputs[i], target);
      target.storage()->bump_version();
    }
  }
  for (const auto& entry : tape_->entries) entry();
  for (const auto& [storage, bumps] : tape_->bumps)
    for (std::uint64_t i = 0; i < bumps; ++i) storage->bump_version();
  return tape_->result;
}

std::size_t CapturedStep::size() const {
  return tape_->entries.size();
}

}  // namespace tether
