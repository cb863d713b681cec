// DistributedDataParallel: buckets of gradients, each all-reduced as soon as
// backward has filled it, finished at the end of backward.
#include "tether/distributed/ddp.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "tether/autograd.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"
#include "transport.h"

namespace tether::distributed {

namespace {

constexpr const char* kName = "DistributedDataParallel";

/// One trainable leaf and where its gradient goes.
struct Slot {
  std::string name;
  Tensor param;
  std::size_t bucket = 0;
  std::int64_t offset = 0;  // in elements, into the bucket's flat buffer
  bool ready = false;       // its gradient is in the bucket for this backward
  bool used = false;        // it got a gradient since the last reducing backward
};

/// Gradients reduced together: one flat buffer of one dtype and device.
struct Bucket {
  Tensor flat;
  std::int64_t elements = 0;
  std::vector<std::size_t> slots;
  std::size_t pending = 0;  // slots whose gradient has yet to arrive
  std::optional<detail::PendingCollective> reduction;
};

bool same_kind(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.device() == b.device();
}

/// Buffers of one dtype and device, broadcast together as one flat tensor:
/// one collective per step rather than one per buffer.
struct BufferGroup {
  std::vector<Tensor> buffers;
  Tensor flat;
  std::optional<detail::PendingCollective> broadcast;

  /// Calls `f(buffer, its region of flat)` for each buffer.
  template <class F>
  void for_each_region(F f) {
    std::int64_t offset = 0;
    for (Tensor& buffer : buffers) {
      f(buffer, flat.narrow(0, offset, buffer.numel()));
      offset += buffer.numel();
    }
  }

  /// Starts sending rank 0's buffers to every rank's flat copy.
  void start_broadcast() {
    for_each_region(
        [](const Tensor& buffer, Tensor region) { region.copy_(buffer.reshape({-1})); });
    broadcast.emplace(detail::PendingCollective::broadcast(flat, 0, kName));
  }

  /// Writes rank 0's values, which the finished broadcast brought, into the buffers.
  void write_back() {
    broadcast.reset();
    for_each_region(
        [](Tensor& buffer, const Tensor& region) { buffer.copy_(region.view(buffer.shape())); });
  }
};

/// Refuses modules whose parameters differ between the ranks: their buckets
/// would not line up, and MPI would add unrelated gradients or wait forever.
void check_same_parameters_everywhere(const std::vector<Slot>& slots) {
  std::int64_t elements = 0;
  for (const Slot& slot : slots) elements += slot.param.numel();
  const std::vector<std::int64_t> mine{static_cast<std::int64_t>(slots.size()), elements};
  const std::vector<std::int64_t> all =
      all_gather(tensor({static_cast<double>(mine[0]), static_cast<double>(mine[1])}, DType::i64))
          .to_vector<std::int64_t>();
  for (std::size_t r = 0; r < all.size() / 2; ++r)
    if (all[2 * r] != mine[0] || all[2 * r + 1] != mine[1])
      detail::fail_on_rank(
          kName, "this rank's module has " + std::to_string(mine[0]) + " parameters of " +
                     std::to_string(mine[1]) + " elements, rank " + std::to_string(r) + "'s " +
                     std::to_string(all[2 * r]) + " of " + std::to_string(all[2 * r + 1]));
}

}  // namespace

struct DistributedDataParallel::State {
  DdpOptions options;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<BufferGroup> buffer_groups;  // the module's state that is not a parameter
  std::vector<HookHandle> hooks;
  bool syncing = true;       // false under no_sync()
  bool in_backward = false;  // a gradient arrived, finish() is queued
  std::size_t next_to_start = 0;
  DistributedDataParallel::CommunicationWait waited;

  /// Reverse registration order, as torch's: the last layer's gradients are
  /// the first that backward completes. A bucket holds one dtype and device.
  void make_buckets() {
    std::int64_t filled_bytes = 0;
    for (std::size_t i = slots.size(); i-- > 0;) {
      Slot& slot = slots[i];
      const Tensor& param = slot.param;
      const bool fits = !buckets.empty() && filled_bytes < options.bucket_cap_bytes &&
                        same_kind(slots[buckets.back().slots.front()].param, param);
      if (!fits) {
        buckets.emplace_back();
        filled_bytes = 0;
      }
      Bucket& bucket = buckets.back();
      slot.bucket = buckets.size() - 1;
      slot.offset = bucket.elements;
      bucket.slots.push_back(i);
      bucket.elements += param.numel();
      filled_bytes += param.numel() * static_cast<std::int64_t>(element_size(param.dtype()));
    }
    for (Bucket& bucket : buckets)
      bucket.flat = zeros({bucket.elements}, slots[bucket.slots.front()].param.options());
    reset();
  }

  /// A leaf's post-accumulate hook: its gradient is complete for this backward.
  void on_gradient(std::size_t index) {
    slots[index].used = true;  // under no_sync too: its accumulated gradient is reduced later
    if (!syncing) return;
    NoGradGuard no_grad;  // a create_graph gradient is copied as a value
    if (!in_backward) {
      in_backward = true;
      autograd::queue_callback([this] { finish(); });
      // The forward has updated the buffers already; sent now, they travel
      // during backward and with the buckets, rather than as collectives of
      // their own after it (each one more wait for the slowest rank).
      if (options.broadcast_buffers)
        for (BufferGroup& group : buffer_groups) group.start_broadcast();
    }
    Slot& slot = slots[index];
    Bucket& bucket = buckets[slot.bucket];
    region(slot).copy_(slot.param.grad().reshape({slot.param.numel()}));
    slot.ready = true;
    if (--bucket.pending == 0) start_ready_buckets();
    // MPI progresses a non-blocking collective only inside MPI calls.
    for (std::size_t b = 0; b < next_to_start; ++b) buckets[b].reduction->test();
    for (BufferGroup& group : buffer_groups)
      if (group.broadcast) group.broadcast->test();
  }

  /// Starts the buckets that are full, in bucket order, stopping at the first
  /// that is not: every rank starts them in the same order.
  void start_ready_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].pending == 0) {
      Bucket& bucket = buckets[next_to_start++];
      bucket.reduction.emplace(
          detail::PendingCollective::all_reduce(bucket.flat, ReduceOp::sum, kName));
    }
  }

  /// Queued at the end of the backward: accounts for the parameters that got
  /// no gradient, waits for every bucket and writes the averages back.
  void finish() {
    NoGradGuard no_grad;
    std::string unused;
    for (Slot& slot : slots) {
      if (slot.ready) continue;
      if (!options.find_unused_parameters) {
        unused += (unused.empty() ? "" : ", ") + slot.name;
        continue;
      }
      // As torch's: the gradient it holds (accumulated under no_sync, or left
      // from an earlier step) takes part, and none counts as zeros.
      if (slot.param.grad().defined())
        region(slot).copy_(slot.param.grad().reshape({slot.param.numel()}));
      else
        region(slot).zero_();
      slot.ready = true;
      --buckets[slot.bucket].pending;
    }
    if (!unused.empty()) {
      reset();
      detail::fail_on_rank(kName, "parameters " + unused +
                                      " got no gradient in this backward; pass "
                                      "find_unused_parameters = true when a step may leave "
                                      "some parameters unused");
    }
    start_ready_buckets();
    const std::vector<bool> used_anywhere = used_on_some_rank();
    const double ranks = world_size();
    ++waited.backwards;
    for (Bucket& bucket : buckets) {
      wait_for(*bucket.reduction);
      bucket.flat.div_(ranks);
      for (std::size_t index : bucket.slots) {
        Slot& slot = slots[index];
        if (!used_anywhere[index]) continue;  // torch leaves its .grad as it was (None)
        const Tensor average = region(slot).view(slot.param.shape());
        if (slot.param.grad().defined())
          slot.param.grad().copy_(average);
        else
          slot.param.set_grad(average.clone());
      }
    }
    if (options.broadcast_buffers)
      for (BufferGroup& group : buffer_groups) {
        wait_for(*group.broadcast);
        group.write_back();
      }
    reset();
  }

  /// Waits for `pending`, counting the time in communication_wait().
  void wait_for(detail::PendingCollective& pending) {
    const auto start = std::chrono::steady_clock::now();
    pending.wait();
    waited.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  /// Whether any rank used each slot since the last reducing backward: every
  /// slot was used without find_unused_parameters (finish() checked it);
  /// with it, one more all-reduce, of the flags, as torch's local_used_map.
  std::vector<bool> used_on_some_rank() const {
    std::vector<bool> used(slots.size(), true);
    if (!options.find_unused_parameters) return used;
    std::vector<double> flags;
    for (const Slot& slot : slots) flags.push_back(slot.used ? 1 : 0);
    const Tensor anywhere = tensor(flags, DType::i64);
    all_reduce(anywhere, ReduceOp::max);
    const std::vector<std::int64_t> result = anywhere.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < slots.size(); ++i) used[i] = result[i] != 0;
    return used;
  }

  /// Ready for the next backward.
  void reset() {
    for (Slot& slot : slots) slot.ready = slot.used = false;
    for (Bucket& bucket : buckets) {
      bucket.pending = bucket.slots.size();
      bucket.reduction.reset();
    }
    for (BufferGroup& group : buffer_groups) group.broadcast.reset();
    next_to_start = 0;
    in_backward = false;
  }

  /// Puts `buffer` in the group of its dtype and device.
  void add_buffer(const Tensor& buffer) {
    auto group =
        std::find_if(buffer_groups.begin(), buffer_groups.end(),
                     [&](const BufferGroup& g) { return same_kind(g.buffers.front(), buffer); });
    if (group == buffer_groups.end()) {
      buffer_groups.emplace_back();
      group = std::prev(buffer_groups.end());
    }
    group->buffers.push_back(buffer);
    group->flat =
        zeros({group->flat.defined() ? group->flat.numel() + buffer.numel() : buffer.numel()},
              buffer.options());
  }

  Tensor region(const Slot& slot) const {
    return buckets[slot.bucket].flat.narrow(0, slot.offset, slot.param.numel());
  }
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module,
                                                 DdpOptions options)
    : module_(std::move(module)), state_(std::make_unique<State>()) {
  if (!module_) fail<ValueError>(kName, ": expected a module, got null");
  if (options.bucket_cap_bytes <= 0)
    fail<ValueError>(kName, ": bucket_cap_bytes must be positive, got ", options.bucket_cap_bytes);
  state_->options = options;
  for (auto& [name, param] : module_->named_parameters())
    state_->slots.push_back({name, param, 0, 0, false, false});
  check_same_parameters_everywhere(state_->slots);  // before a broadcast that would not line up
  NoGradGuard no_grad;
  for (const auto& [name, tensor] : module_->state_dict()) {
    broadcast(tensor, 0);
    const auto holds_it = [&](const Slot& slot) {
      return slot.param.raw_data() == tensor.raw_data();
    };
    if (std::none_of(state_->slots.begin(), state_->slots.end(), holds_it))
      state_->add_buffer(tensor);
  }
  state_->make_buckets();
  for (std::size_t i = 0; i < state_->slots.size(); ++i)
    state_->hooks.push_back(state_->slots[i].param.register_post_accumulate_grad_hook(
        [state = state_.get(), i](const Tensor&) { state->on_gradient(i); }));
}

DistributedDataParallel::~DistributedDataParallel() {
  for (HookHandle& hook : state_->hooks) hook.remove();
}

std::vector<std::vector<std::string>> DistributedDataParallel::buckets() const {
  std::vector<std::vector<std::string>> names;
  for (const Bucket& bucket : state_->buckets) {
    names.emplace_back();
    for (std::size_t index : bucket.slots) names.back().push_back(state_->slots[index].name);
  }
  return names;
}

DistributedDataParallel::CommunicationWait DistributedDataParallel::communication_wait() const {
  return state_->waited;
}

void save_checkpoint(const std::string& path, nn::Module& module, const optim::Optimizer& optimizer,
                     const optim::Scheduler* scheduler) {
  detail::world("save_checkpoint");
  // An error on rank 0 throws there; uncaught, it aborts the ranks in the barrier (see init).
  if (rank() == 0) training::save_checkpoint(path, module, optimizer, scheduler);
  barrier();
}

DistributedDataParallel::NoSync::NoSync(DistributedDataParallel& ddp)
    : ddp_(ddp), was_syncing_(std::exchange(ddp.state_->syncing, false)) {}

DistributedDataParallel::NoSync::~NoSync() {
  ddp_.state_->syncing = was_syncing_;
}

}  // namespace tether::distributed
