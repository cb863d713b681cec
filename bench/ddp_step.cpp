// The digits CNN's training step (examples/digits.h; Adam, batch 32 per rank)
// alone and under DistributedDataParallel, in one run on N ranks (one core
// each):
//   mpirun -np 2 --oversubscribe build/bench/ddp_step
// Each round times, on every rank at once, K steps of a model of its own
// without communication (the 1-rank step), K steps of the ranks' shared model
// (the N-rank step), and K all-reduces of as many bytes as its gradients
// (the communication alone); rounds alternate, medians are kept. Rank 0 prints
// the throughput of both, the speed-up (N x step alone / step shared) and the
// fraction of the communication hidden behind backward:
// 1 - (step shared - step alone) / communication alone.
#include <digits.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "tether/distributed/ddp.h"
#include "tether/distributed/distributed.h"

namespace {

using namespace tether;

constexpr std::int64_t kBatch = 32;  // per rank
constexpr int kSteps = 10;
constexpr int kRounds = 5;

/// Seconds per call of `body`, over kSteps calls, on the slowest rank.
double seconds_per_call(const std::function<void()>& body) {
  distributed::barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kSteps; ++i) body();
  const Tensor seconds = scalar_tensor(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / kSteps,
      DType::f64);
  distributed::all_reduce(seconds, distributed::ReduceOp::max);
  return seconds.item<double>();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

/// One Adam step of `model` on `images`, `labels`.
std::function<void()> training_step(nn::Sequential& model, optim::Adam& adam, const Tensor& images,
                                    const Tensor& labels) {
  return [&model, &adam, images, labels] {
    adam.zero_grad();
    nn::cross_entropy(model(images), labels).backward();
    adam.step();
  };
}

}  // namespace

int main() {
  distributed::init();
  const int ranks = distributed::world_size();
  const auto [images, labels] = examples::load_digits();
  const Tensor my_images =
      images.narrow(0, kBatch * distributed::rank(), kBatch).reshape({-1, 1, 8, 8});
  const Tensor my_labels = labels.narrow(0, kBatch * distributed::rank(), kBatch);

  manual_seed(0);
  const auto alone = examples::make_digits_cnn();
  optim::Adam alone_adam(alone->parameters(), {.lr = 1e-3});
  manual_seed(0);
  const auto shared = examples::make_digits_cnn();
  distributed::DistributedDataParallel ddp(shared);
  optim::Adam shared_adam(shared->parameters(), {.lr = 1e-3});
  std::int64_t gradient_elements = 0;
  for (const Tensor& p : shared->parameters()) gradient_elements += p.numel();
  const Tensor gradients = zeros({gradient_elements});

  const auto step_alone = training_step(*alone, alone_adam, my_images, my_labels);
  const auto step_shared = training_step(*shared, shared_adam, my_images, my_labels);
  std::vector<double> alone_s, shared_s, comm_s;
  for (int round = 0; round < kRounds; ++round) {
    alone_s.push_back(seconds_per_call(step_alone));
    shared_s.push_back(seconds_per_call(step_shared));
    comm_s.push_back(seconds_per_call([&] { distributed::all_reduce(gradients); }));
  }
  const double t_alone = median(alone_s), t_shared = median(shared_s), t_comm = median(comm_s);
  if (distributed::rank() == 0) {
    const double speedup = ranks * t_alone / t_shared;
    const double hidden = std::clamp(1.0 - (t_shared - t_alone) / t_comm, 0.0, 1.0);
    std::printf("ddp_step_alone %.1f images/s\n", kBatch / t_alone);
    std::printf("ddp_step_%d_ranks %.1f images/s\n", ranks, ranks * kBatch / t_shared);
    std::printf("ddp_step_speedup %.3f x (of %d)\n", speedup, ranks);
    std::printf("ddp_step_efficiency %.3f\n", speedup / ranks);
    std::printf("ddp_step_allreduce %.1f us (%lld gradient elements)\n", t_comm * 1e6,
                static_cast<long long>(gradient_elements));
    std::printf("ddp_step_hidden %.3f of the communication\n", hidden);
  }
  distributed::finalize();
}
