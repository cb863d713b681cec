// DistributedDataParallel: the same model on every rank, each rank training on
// its own part of the batch, gradients averaged over the ranks during backward,
// as torch.nn.parallel.DistributedDataParallel.
//
//   auto model = std::make_shared<Net>();
//   tether::distributed::DistributedDataParallel ddp(model);  // rank 0's values everywhere
//   tether::optim::SGD opt(model->parameters(), {.lr = 0.1});
//   for (...) {
//     opt.zero_grad();
//     loss_fn((*model)(my_part_of_x), my_part_of_y).backward();  // grads: the ranks' mean
//     opt.step();
//   }
//
// The gradients it averages are those of the trainable leaves
// (Module::parameters(): a computed parameter's raw inputs), gathered into
// buckets of about bucket_cap_bytes in reverse registration order, roughly the
// order backward produces them. Each leaf's post-accumulate hook copies its
// gradient into its bucket; a full bucket's all-reduce starts at once
// (MPI_Iallreduce, or NCCL on the device stream), overlapping the rest of the
// backward, and the end of backward waits for every bucket and writes the
// averages back into the gradients, so they are in place when backward()
// returns. Buckets start in the same order on every rank, whatever order their
// gradients complete in, as MPI's collectives require.
//
// Buffers (batch norm's running statistics, spectral norm's u and v) are
// broadcast from rank 0 at construction and, with broadcast_buffers, again at
// the end of every backward that reduces, so each forward starts from rank 0's
// (torch broadcasts them before each forward). Spectral norm's u and v need
// no broadcast: its power iteration reads the parameters, identical
// everywhere, so they stay identical bit for bit; batch norm's statistics
// depend on each rank's data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tether/nn/module.h"
#include "tether/train/checkpoint.h"

namespace tether::distributed {

struct DdpOptions {
  /// A bucket is closed once its gradients reach this many bytes (torch's 25 MiB).
  std::int64_t bucket_cap_bytes = 25 * 1024 * 1024;
  /// Whether a backward that leaves some parameters without a gradient on
  /// this rank is expected (torch's find_unused_parameters). When true, such a
  /// parameter takes part with the .grad it holds (zeros when it has none) and
  /// receives the ranks' average, as torch's; one that no rank used since the
  /// last reducing backward (no_sync backwards count) keeps its .grad as it
  /// was, undefined after zero_grad(), as torch leaves it None. This costs one
  /// more all-reduce per backward, of a flag per parameter. When false, the
  /// end of that backward throws DistributedError naming the parameters.
  bool find_unused_parameters = false;
  /// Whether the end of each reducing backward copies rank 0's buffers to
  /// every rank (torch's broadcast_buffers).
  bool broadcast_buffers = true;
};

class DistributedDataParallel {
 public:
  /// Broadcasts `module`'s trainable tensors and buffers from rank 0 and hooks
  /// its parameters. The module must have the same parameters, in the same
  /// order, with the same shapes, on every rank. Needs init().
  explicit DistributedDataParallel(std::shared_ptr<nn::Module> module, DdpOptions options = {});
  /// Removes the hooks; the module keeps working on its own.
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  nn::Module& module() { return *module_; }

  /// While alive, backwards accumulate gradients locally without reducing
  /// them (torch's no_sync): the first backward after it averages the sum.
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& ddp);
    ~NoSync();
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool was_syncing_;
  };
  NoSync no_sync() { return NoSync(*this); }

  /// The parameters' names, bucket by bucket, in the order their all-reduces start.
  std::vector<std::vector<std::string>> buckets() const;

  /// How long the reducing backwards so far waited, once backward had produced
  /// every gradient, for their buckets' all-reduces and buffers' broadcasts: the
  /// communication that backward did not hide (and, on a rank that finished
  /// first, the wait for slower ranks), as torch's DDP logging reports it.
  struct CommunicationWait {
    std::int64_t backwards = 0;  ///< reducing backwards counted
    double seconds = 0;          ///< their waits together
  };
  CommunicationWait communication_wait() const;

 private:
  struct State;
  std::shared_ptr<nn::Module> module_;
  std::unique_ptr<State> state_;
};

/// training::save_checkpoint on rank 0 alone (one writer, atomic as ever),
/// then a barrier: when it returns on any rank, the file is complete, and
/// every rank can resume from it with training::load_checkpoint, getting the
/// same module and optimizer state.
void save_checkpoint(const std::string& path, nn::Module& module, const optim::Optimizer& optimizer,
                     const optim::Scheduler* scheduler = nullptr);

}  // namespace tether::distributed
