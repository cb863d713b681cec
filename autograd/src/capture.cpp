// Captured steps: a Backend that records. Every op calls exactly one backend
// per kernel through backend_for, so installing a recorder as this thread's
// interceptor sees every kernel of the step with its arguments; the recorder
// runs each call on the device's own backend (the capture is an eager step)
// and keeps a closure bound to aliases of the same tensors, which the tape
// owns. Those aliases hold the storages, so a replay writes memory the tape
// owns and allocates nothing; no graph is built because no op runs. The
// step's temporaries -- storages nothing but the tape refers to once the step
// is over -- are moved into one arena per device, where temporaries whose
// lives do not overlap share bytes, as they share cached blocks in an eager
// step: the replay's working set is then no larger than the eager step's.
// Kernels that compute constants run at the capture only, and on CUDA each
// run of kernels between host actions is replayed as one CUDA graph.
#include "tether/capture.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tether/backend/backend.h"
#include "tether/storage.h"

namespace tether {

namespace detail {

/// What a replay runs: the recorded kernels and host actions in order, then
/// the version bumps (storage, how many) the eager step made.
struct Tape {
  /// One kept kernel call or host action: run(state), with the state (its
  /// device's backend and operands, or the host action) owned by the tape.
  /// A replay is one indirect call per entry, over one flat array.
  struct Entry {
    void (*run)(const void* state);
    std::shared_ptr<const void> state;
    Device device;  ///< a kernel's device; the CPU for a host action
  };
  std::vector<Entry> entries;
  /// Runs of consecutive kernels on one device with graphs (CUDA), entries
  /// [begin, end): recorded into a graph at the first replay and launched
  /// as one at the others (see backend::record_device_graph).
  struct GraphRun {
    std::size_t begin, end;
    Device device;
    bool tried = false;  ///< a recording was tried; graph is null if it failed
    std::unique_ptr<backend::DeviceGraph> graph;
  };
  std::vector<GraphRun> graph_runs;
  std::vector<std::pair<std::shared_ptr<Storage>, std::uint64_t>> bumps;
  std::vector<Tensor> inputs;
  Tensor result;

  /// Runs entries [begin, end) one by one.
  void run(std::size_t begin, std::size_t end) const {
    for (std::size_t e = begin; e < end; ++e) entries[e].run(entries[e].state.get());
  }
  /// Runs every entry: each graph run as a graph where it could be recorded.
  void run_all() {
    std::size_t next = 0;
    for (GraphRun& graph_run : graph_runs) {
      run(next, graph_run.begin);
      if (!graph_run.tried) {
        graph_run.tried = true;
        graph_run.graph = backend::record_device_graph(
            graph_run.device, [&] { run(graph_run.begin, graph_run.end); });
      }
      if (graph_run.graph)
        graph_run.graph->launch();
      else
        run(graph_run.begin, graph_run.end);
      next = graph_run.end;
    }
    run(next, entries.size());
  }
};

}  // namespace detail

namespace {

using backend::Backend;

/// How a kernel call uses an operand: reads it, overwrites it, or reads it
/// and writes it back (in place: index_add's out, Adam's parameter).
enum class Access : std::uint8_t { read, write, update };

/// What the log knows of one storage the kernels used: the first and last
/// entries that used it, whether the first only overwrote all of it (then
/// what it held before the step does not matter), how many of the tape's
/// operands refer to it, and, once written, its version when first written
/// and the bumps made by host actions (which bump it again themselves on
/// replay).
struct Usage {
  std::shared_ptr<Storage> storage;
  std::size_t first, last;
  bool overwritten_first;
  long operands = 0;
  long writers = 0;  ///< operands that write it
  bool written = false;
  std::uint64_t first_version = 0;
  std::uint64_t bumped_by_host = 0;
};

/// Whether writing `t` writes every byte of its storage.
bool covers_storage(const Tensor& t) {
  return t.storage_offset() == 0 && t.is_contiguous() &&
         static_cast<std::size_t>(t.numel()) * element_size(t.dtype()) == t.storage()->nbytes();
}

/// Byte offsets in one arena for storages with known lives [first, last]
/// (entry indices): two storages overlap in memory only if their lives do
/// not overlap. First fit, in order of first use.
class ArenaPlan {
 public:
  /// Places `nbytes` for a life starting no earlier than every one placed
  /// before; returns its offset.
  std::size_t place(std::size_t nbytes, std::size_t first, std::size_t last) {
    constexpr std::size_t kAlignment = 64;  // as the allocators' blocks
    const std::size_t size = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
    std::vector<const Placed*> live;  // placed ones still alive at `first`
    for (const Placed& p : placed_)
      if (p.last >= first) live.push_back(&p);
    std::sort(live.begin(), live.end(),
              [](const Placed* a, const Placed* b) { return a->offset < b->offset; });
    std::size_t offset = 0;
    for (const Placed* p : live) {
      if (p->offset >= offset + size) break;
      offset = std::max(offset, p->offset + p->size);
    }
    placed_.push_back({offset, size, last});
    bytes_ = std::max(bytes_, offset + size);
    return offset;
  }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Placed {
    std::size_t offset, size, last;
  };
  std::vector<Placed> placed_;
  std::size_t bytes_ = 0;
};

/// The tape being written and what the log knows of the storages its
/// kernels use.
class Log {
 public:
  explicit Log(detail::Tape& tape) : tape_(tape) {}

  /// The tape's alias of `t`, an operand of the call about to be kept:
  /// detached, so that the tape holds the memory but no graph. The kept call
  /// owns the alias; the log may later move it onto the arena. An undefined
  /// `t` (an optional operand or an output not asked for) stays undefined.
  Tensor operand(const Tensor& t, Access access) {
    if (!t.defined()) return Tensor();
    const std::size_t entry = tape_.entries.size();
    const bool overwrites = access == Access::write && covers_storage(t);
    const std::shared_ptr<Storage>& storage = t.storage();
    const auto [it, fresh] = index_.emplace(storage.get(), usages_.size());
    if (fresh) usages_.push_back({storage, entry, entry, overwrites});
    Usage& usage = usages_[it->second];
    if (usage.first == entry && !overwrites) usage.overwritten_first = false;
    usage.last = entry;
    ++usage.operands;
    if (access != Access::read) ++usage.writers;
    accesses_.push_back({entry, it->second, access});
    if (access != Access::read && !usage.written) {
      usage.written = true;
      usage.first_version = storage->version();
    }
    Tensor alias = t.detach();
    aliases_.push_back(alias.impl());
    return alias;
  }

  /// The references to `storage` the tape and this log hold.
  long references(const Storage& storage) const {
    const auto it = index_.find(&storage);
    return it == index_.end() ? 0 : usages_[it->second].operands + 1;
  }

  /// Appends `replay`: a kernel call on `device` on operands just taken
  /// from operand(), or a host action (on the CPU).
  template <class Replay>
  void keep(Replay replay, Device device = Device::cpu()) {
    tape_.entries.push_back({[](const void* state) { (*static_cast<const Replay*>(state))(); },
                             std::make_shared<const Replay>(std::move(replay)), device});
  }

  /// Runs `action` (recording is off) and appends it to the tape; bumps it
  /// makes to written storages are its own, repeated when it runs again.
  void keep_host_action(std::function<void()> action) {
    std::vector<std::uint64_t> before;
    before.reserve(usages_.size());
    for (const Usage& u : usages_) before.push_back(u.storage->version());
    action();
    for (std::size_t i = 0; i < before.size(); ++i)
      usages_[i].bumped_by_host += usages_[i].storage->version() - before[i];
    keep(std::move(action));
  }

  /// Ends the tape once the step is over: notes the in-place bumps the eager
  /// step made to each storage kernels wrote (but temporaries), moves the
  /// temporaries into the arenas, drops the kernels that compute constants
  /// and marks the runs a device may replay as graphs.
  void finish() {
    std::vector<bool> temporary = temporaries();
    const std::vector<bool> constant = constants(temporary);
    for (std::size_t i = 0; i < usages_.size(); ++i) {
      const Usage& u = usages_[i];
      if (!u.written || temporary[i]) continue;  // nothing outside sees a temporary's version
      const std::uint64_t bumps = u.storage->version() - u.first_version - u.bumped_by_host;
      if (bumps > 0) tape_.bumps.emplace_back(u.storage, bumps);
    }
    for (std::size_t i = 0; i < usages_.size(); ++i)
      if (constant[i]) temporary[i] = false;  // their values must stay between replays
    move_into_arenas(temporary);
    drop_constant_entries(constant);
    find_graph_runs();
  }

 private:
  /// Which storages are temporaries: the first kernel using each overwrote
  /// all of it, and the only references left are the tape's (its operands
  /// and this log). Nothing else can reach them again, and a replay writes
  /// them before reading them.
  std::vector<bool> temporaries() const {
    std::vector<bool> temporary(usages_.size());
    for (std::size_t i = 0; i < usages_.size(); ++i) {
      const Usage& u = usages_[i];
      temporary[i] =
          u.overwritten_first && u.storage->nbytes() > 0 && u.storage.use_count() == u.operands + 1;
    }
    return temporary;
  }

  /// Which temporaries hold the same values at every replay: those written
  /// by one kernel only, a fill or a kernel reading nothing but such values
  /// (a scalar made for a backward formula, and what is computed from it).
  /// The capture computed them; a replay need not.
  std::vector<bool> constants(const std::vector<bool>& temporary) const {
    std::vector<bool> constant(usages_.size());
    for (std::size_t begin = 0; begin < accesses_.size();) {
      std::size_t end = begin;
      bool computes_constants = true;
      for (; end < accesses_.size() && accesses_[end].entry == accesses_[begin].entry; ++end) {
        const auto& [entry, usage, access] = accesses_[end];
        computes_constants &=
            access == Access::read
                ? constant[usage]
                : access == Access::write && temporary[usage] && usages_[usage].writers == 1;
      }
      if (computes_constants)
        for (std::size_t k = begin; k < end; ++k)
          if (accesses_[k].access == Access::write) constant[accesses_[k].usage] = true;
      begin = end;
    }
    return constant;
  }

  /// Removes the kernel calls that only compute constants from the tape.
  void drop_constant_entries(const std::vector<bool>& constant) {
    std::vector<bool> dropped(tape_.entries.size());
    for (const OperandUse& a : accesses_)
      if (a.access == Access::write && constant[a.usage]) dropped[a.entry] = true;
    std::size_t kept = 0;
    for (std::size_t e = 0; e < tape_.entries.size(); ++e)
      if (!dropped[e]) tape_.entries[kept++] = std::move(tape_.entries[e]);
    tape_.entries.resize(kept);
  }

  /// The maximal runs of kernels on one device other than the CPU.
  void find_graph_runs() {
    const auto& entries = tape_.entries;
    for (std::size_t begin = 0; begin < entries.size();) {
      std::size_t end = begin + 1;
      while (end < entries.size() && entries[end].device == entries[begin].device) ++end;
      if (!entries[begin].device.is_cpu())
        tape_.graph_runs.push_back({begin, end, entries[begin].device, false, nullptr});
      begin = end;
    }
  }

  /// Gives each temporary a place in its device's arena (ArenaPlan) and
  /// points the aliases of it at a storage there.
  void move_into_arenas(const std::vector<bool>& temporary) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < usages_.size(); ++i)
      if (temporary[i]) order.push_back(i);
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return usages_[a].first < usages_[b].first; });
    std::vector<Device> devices;
    for (const std::size_t i : order)
      if (std::find(devices.begin(), devices.end(), usages_[i].storage->device()) == devices.end())
        devices.push_back(usages_[i].storage->device());
    std::unordered_map<const Storage*, std::shared_ptr<Storage>> moved;
    for (const Device device : devices) {
      ArenaPlan plan;
      std::vector<std::pair<std::size_t, std::size_t>> placed;  // (usage, offset)
      for (const std::size_t i : order) {
        const Usage& u = usages_[i];
        if (u.storage->device() == device)
          placed.emplace_back(i, plan.place(u.storage->nbytes(), u.first, u.last));
      }
      const auto arena = std::make_shared<Storage>(plan.bytes(), device);
      for (const auto& [i, offset] : placed) {
        const Storage& old = *usages_[i].storage;
        // The arena lives as long as any storage carved from it.
        moved[&old] = std::make_shared<Storage>(static_cast<char*>(arena->data()) + offset,
                                                old.nbytes(), device, [arena](void*) {});
      }
    }
    for (TensorImpl* alias : aliases_)
      if (const auto it = moved.find(alias->storage.get()); it != moved.end())
        alias->storage = it->second;
  }

  /// One operand of a kept kernel call, in the order they were taken.
  struct OperandUse {
    std::size_t entry, usage;
    Access access;
  };

  detail::Tape& tape_;
  std::vector<Usage> usages_;
  std::vector<OperandUse> accesses_;
  std::vector<TensorImpl*> aliases_;  ///< every operand's alias, owned by its kept call
  std::unordered_map<const Storage*, std::size_t> index_;
};

/// One device's recording backend: runs each call on the device's own
/// backend and keeps it, bound to the tape's aliases of its tensors, in the
/// log. The aliases are taken in the order the kernel reads and writes them.
class Recording final : public Backend {
 public:
  Recording(Device device, Log& log) : device_(device), log_(log) {}

  Device device() const { return device_; }

  void fill(const Tensor& out, double value) override {
    record([out = written(out), value](Backend& b) { b.fill(out, value); });
  }
  void copy(const Tensor& src, const Tensor& dst) override {
    record([src = read(src), dst = written(dst)](Backend& b) { b.copy(src, dst); });
  }
  void unary(backend::UnaryOp op, const Tensor& in, const Tensor& out,
             backend::UnaryParams params) override {
    record([op, in = read(in), out = written(out), params](Backend& b) {
      b.unary(op, in, out, params);
    });
  }
  void binary(backend::BinaryOp op, const Tensor& a, const Tensor& b_, const Tensor& out) override {
    record([op, a = read(a), b_ = read(b_), out = written(out)](Backend& b) {
      b.binary(op, a, b_, out);
    });
  }
  void where(const Tensor& cond, const Tensor& a, const Tensor& b_, const Tensor& out) override {
    record([cond = read(cond), a = read(a), b_ = read(b_), out = written(out)](Backend& b) {
      b.where(cond, a, b_, out);
    });
  }
  void reduce(backend::ReduceOp op, const Tensor& in, std::uint32_t mask,
              const Tensor& out) override {
    record(
        [op, in = read(in), mask, out = written(out)](Backend& b) { b.reduce(op, in, mask, out); });
  }
  void argmax(const Tensor& in, int dim, const Tensor& out) override {
    record([in = read(in), dim, out = written(out)](Backend& b) { b.argmax(in, dim, out); });
  }
  void argmin(const Tensor& in, int dim, const Tensor& out) override {
    record([in = read(in), dim, out = written(out)](Backend& b) { b.argmin(in, dim, out); });
  }
  void im2col(const Tensor& in, const backend::ConvGeometry& geometry, const Tensor& out) override {
    record(
        [in = read(in), geometry, out = written(out)](Backend& b) { b.im2col(in, geometry, out); });
  }
  void col2im(const Tensor& columns, const backend::ConvGeometry& geometry,
              const Tensor& out) override {
    record([columns = read(columns), geometry, out = written(out)](Backend& b) {
      b.col2im(columns, geometry, out);
    });
  }
  void conv2d(const Tensor& in, const Tensor& weight, const Tensor& bias,
              const backend::ConvGeometry& geometry, std::int64_t groups,
              const Tensor& out) override {
    record([in = read(in), weight = read(weight), bias = read(bias), geometry, groups,
            out = written(out)](Backend& b) { b.conv2d(in, weight, bias, geometry, groups, out); });
  }
  void conv2d_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                       const backend::ConvGeometry& geometry, std::int64_t groups,
                       const Tensor& grad_in, const Tensor& grad_weight,
                       const Tensor& grad_bias) override {
    record([grad_out = read(grad_out), in = read(in), weight = read(weight), geometry, groups,
            grad_in = written(grad_in), grad_weight = written(grad_weight),
            grad_bias = written(grad_bias)](Backend& b) {
      b.conv2d_backward(grad_out, in, weight, geometry, groups, grad_in, grad_weight, grad_bias);
    });
  }
  void max_pool2d(const Tensor& in, const backend::ConvGeometry& geometry, const Tensor& out,
                  const Tensor& indices) override {
    record([in = read(in), geometry, out = written(out), indices = written(indices)](Backend& b) {
      b.max_pool2d(in, geometry, out, indices);
    });
  }
  void batch_norm(const Tensor& in, const Tensor& weight, const Tensor& bias, double eps,
                  const Tensor& out, const Tensor& mean, const Tensor& var) override {
    record([in = read(in), weight = read(weight), bias = read(bias), eps, out = written(out),
            mean = written(mean), var = written(var)](Backend& b) {
      b.batch_norm(in, weight, bias, eps, out, mean, var);
    });
  }
  void batch_norm_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                           const Tensor& mean, const Tensor& var, double eps, const Tensor& grad_in,
                           const Tensor& grad_weight, const Tensor& grad_bias) override {
    record([grad_out = read(grad_out), in = read(in), weight = read(weight), mean = read(mean),
            var = read(var), eps, grad_in = written(grad_in), grad_weight = written(grad_weight),
            grad_bias = written(grad_bias)](Backend& b) {
      b.batch_norm_backward(grad_out, in, weight, mean, var, eps, grad_in, grad_weight, grad_bias);
    });
  }
  void matmul(const Tensor& a, const Tensor& b_, const Tensor& out) override {
    record([a = read(a), b_ = read(b_), out = written(out)](Backend& b) { b.matmul(a, b_, out); });
  }
  void index_select(const Tensor& in, int dim, const Tensor& index, const Tensor& out) override {
    record([in = read(in), dim, index = read(index), out = written(out)](Backend& b) {
      b.index_select(in, dim, index, out);
    });
  }
  void index_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) override {
    record([out = updated(out), dim, index = read(index), src = read(src)](Backend& b) {
      b.index_add(out, dim, index, src);
    });
  }
  void gather(const Tensor& in, int dim, const Tensor& index, const Tensor& out) override {
    record([in = read(in), dim, index = read(index), out = written(out)](Backend& b) {
      b.gather(in, dim, index, out);
    });
  }
  void scatter_add(const Tensor& out, int dim, const Tensor& index, const Tensor& src) override {
    record([out = updated(out), dim, index = read(index), src = read(src)](Backend& b) {
      b.scatter_add(out, dim, index, src);
    });
  }
  std::optional<backend::NotPositiveDefinite> cholesky(const Tensor& in,
                                                       const Tensor& out) override {
    // The op turns a failure into an error at capture; a replay that meets
    // one raises it too, instead of going on with an unspecified factor.
    Backend& device = backend::device_backend(device_);
    const Tensor held_in = read(in), held_out = written(out);
    const auto failure = device.cholesky(held_in, held_out);
    log_.keep(
        [&device, held_in, held_out] {
          if (const auto failed = device.cholesky(held_in, held_out))
            fail<LinAlgError>("capture: replay: cholesky: the leading minor of order ",
                              failed->order, " of matrix ", failed->batch,
                              " is not positive definite");
        },
        device_);
    return failure;
  }
  void solve_triangular(const Tensor& a, const Tensor& rhs, const Tensor& out,
                        backend::TriangularSystem system) override {
    record([a = read(a), rhs = read(rhs), out = written(out), system](Backend& b) {
      b.solve_triangular(a, rhs, out, system);
    });
  }
  void scan(backend::ScanOp op, const Tensor& in, int dim, bool reverse,
            const Tensor& out) override {
    record([op, in = read(in), dim, reverse, out = written(out)](Backend& b) {
      b.scan(op, in, dim, reverse, out);
    });
  }
  void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const AdamStep& step) override {
    record([param = updated(param), grad = read(grad), exp_avg = updated(exp_avg),
            exp_avg_sq = updated(exp_avg_sq),
            step](Backend& b) { b.adam_step(param, grad, exp_avg, exp_avg_sq, step); });
  }
  void add_scaled(const Tensor& out, const Tensor& x, double alpha) override {
    record([out = updated(out), x = read(x), alpha](Backend& b) { b.add_scaled(out, x, alpha); });
  }
  void sort(const Tensor& in, int dim, std::int64_t k, bool descending, const Tensor& values,
            const Tensor& indices) override {
    record([in = read(in), dim, k, descending, values = written(values),
            indices = written(indices)](Backend& b) {
      b.sort(in, dim, k, descending, values, indices);
    });
  }
  void multinomial(const Tensor& probs, const Tensor& uniforms, bool replacement,
                   const Tensor& out) override {
    record([probs = read(probs), uniforms = read(uniforms), replacement,
            out = written(out)](Backend& b) { b.multinomial(probs, uniforms, replacement, out); });
  }

  void spectral_norm(const Tensor& w, const Tensor& u, const Tensor& v, int steps, double eps,
                     const Tensor& u_out, const Tensor& v_out, const Tensor& sigma,
                     const Tensor& out) override {
    // The power iteration moves u and v in place, then copies them out.
    record([w = read(w), u = updated(u), v = updated(v), steps, eps, u_out = written(u_out),
            v_out = written(v_out), sigma = written(sigma), out = written(out)](Backend& b) {
      b.spectral_norm(w, u, v, steps, eps, u_out, v_out, sigma, out);
    });
  }
  void spectral_norm_backward(const Tensor& grad, const Tensor& w, const Tensor& u, const Tensor& v,
                              const Tensor& sigma, double eps, const Tensor& grad_w) override {
    record([grad = read(grad), w = read(w), u = read(u), v = read(v), sigma = read(sigma), eps,
            grad_w = written(grad_w)](Backend& b) {
      b.spectral_norm_backward(grad, w, u, v, sigma, eps, grad_w);
    });
  }

 private:
  Tensor read(const Tensor& t) { return log_.operand(t, Access::read); }
  Tensor written(const Tensor& t) { return log_.operand(t, Access::write); }
  Tensor updated(const Tensor& t) { return log_.operand(t, Access::update); }

  /// Runs `call` on the device's backend now and keeps it for replay.
  template <class Call>
  void record(Call call) {
    Backend& device = backend::device_backend(device_);
    call(device);
    log_.keep([&device, call = std::move(call)] { call(device); }, device_);
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

long detail::capture_references(const Storage& storage) {
  return recording != nullptr ? recording->log().references(storage) : 0;
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
  Tensor result = step();
  if (result.defined()) tape->result = result.detach();
  result = Tensor();  // with its graph, which may still hold temporaries
  recorder.log().finish();
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
  tape_->run_all();
  for (const auto& [storage, bumps] : tape_->bumps)
    for (std::uint64_t i = 0; i < bumps; ++i) storage->bump_version();
  return tape_->result;
}

std::size_t CapturedStep::size() const {
  return tape_->entries.size();
}

}  // namespace tether
