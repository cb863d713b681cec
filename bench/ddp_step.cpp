// The digits CNN's training step (examples/digits.h; Adam, batch 32 per rank)
// alone and under DistributedDataParallel, in one run on N ranks (one core
// each):
//   mpirun -np 2 build/bench/ddp_step        (add --oversubscribe beyond the cores;
//   on a machine shared with other work, --bind-to none -x OPENBLAS_NUM_THREADS=1)
// Each round times, on every rank at once, kSteps steps of a model of its own
// without communication (the 1-rank step), kSteps steps of the ranks' shared
// model with the default buckets (the N-rank step), the same with small
// buckets (several all-reduces, the early ones overlapping backward), and
// kSteps times what those send, unoverlapped: an all-reduce of as many bytes
// as the gradients and broadcasts of as many as the buffers (the
// communication alone). Rounds alternate after a warm-up one; rank 0 prints
// medians and the rounds' range. The speed-up is N x step alone / step shared; the fraction
// of communication hidden behind backward is 1 - exposed / communication
// alone, where exposed is the time backward waited for its collectives after
// its last gradient (DistributedDataParallel::communication_wait), on the rank
// that waited least: the one that arrived last, which waits for no one.
#include <digits.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "tether/distributed/ddp.h"
#include "tether/distributed/distributed.h"
#include "tether/threads.h"

namespace {

using namespace tether;

constexpr std::int64_t kBatch = 32;  // per rank
constexpr int kSteps = 20;
constexpr int kRounds = 9;
constexpr std::int64_t kSmallBuckets = 32 * 1024;  // bytes: 3 buckets of the CNN's 124 KB

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double max_over_ranks(double value) {
  const Tensor t = scalar_tensor(value, DType::f64);
  distributed::all_reduce(t, distributed::ReduceOp::max);
  return t.item<double>();
}

double min_over_ranks(double value) {
  return -max_over_ranks(-value);
}

/// One body's per-round figures: seconds per call on the slowest rank, and the
/// lowest CPU share (process CPU time / wall time) of any rank.
struct Series {
  std::vector<double> seconds, cpu_share;

  void time(const std::function<void()>& body) {
    distributed::barrier();
    const double cpu = process_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kSteps; ++i) body();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    seconds.push_back(max_over_ranks(wall / kSteps));
    cpu_share.push_back(min_over_ranks((process_cpu_seconds() - cpu) / wall));
  }
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::string range(std::vector<double> values, double scale, const char* format) {
  std::sort(values.begin(), values.end());
  char text[96];
  std::snprintf(text, sizeof text, format, values.front() * scale, values.back() * scale);
  return text;
}

/// A model and optimizer of the digits CNN, seeded alike on every rank.
struct Trainer {
  std::shared_ptr<nn::Sequential> model;
  optim::Adam adam;

  Trainer() : model(seeded_cnn()), adam(model->parameters(), {.lr = 1e-3}) {}

  static std::shared_ptr<nn::Sequential> seeded_cnn() {
    manual_seed(0);
    return examples::make_digits_cnn();
  }

  std::function<void()> step(const Tensor& images, const Tensor& labels) {
    return [this, images, labels] {
      adam.zero_grad();
      nn::cross_entropy((*model)(images), labels).backward();
      adam.step();
    };
  }
};

/// The seconds per backward that `ddp` waited for communication during `body`'s calls.
std::function<void()> counting_wait(const distributed::DistributedDataParallel& ddp,
                                    std::function<void()> body, std::vector<double>& waits) {
  return [&ddp, body = std::move(body), &waits] {
    const auto before = ddp.communication_wait();
    body();
    const auto after = ddp.communication_wait();
    waits.push_back((after.seconds - before.seconds) /
                    static_cast<double>(after.backwards - before.backwards));
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

  Trainer alone, shared, small;
  distributed::DistributedDataParallel ddp(shared.model);
  distributed::DistributedDataParallel small_ddp(small.model, {.bucket_cap_bytes = kSmallBuckets});
  // The communication alone: what DistributedDataParallel sends per step, the
  // gradients (f32) and the buffers, one flat tensor per dtype.
  std::int64_t gradient_elements = 0;
  for (const Tensor& p : shared.model->parameters()) gradient_elements += p.numel();
  std::int64_t f32_state = 0, i64_state = 0;
  for (const auto& [name, t] : shared.model->state_dict())
    (t.dtype() == DType::i64 ? i64_state : f32_state) += t.numel();
  const Tensor gradients = zeros({gradient_elements});
  const Tensor f32_buffers = zeros({f32_state - gradient_elements});
  const Tensor i64_buffers = zeros({i64_state}, DType::i64);

  std::vector<double> waits, small_waits;  // per backward, this rank's
  const auto step_alone = alone.step(my_images, my_labels);
  const auto step_shared = counting_wait(ddp, shared.step(my_images, my_labels), waits);
  const auto step_small = counting_wait(small_ddp, small.step(my_images, my_labels), small_waits);
  const auto communicate = [&] {
    distributed::all_reduce(gradients);
    distributed::broadcast(f32_buffers, 0);
    distributed::broadcast(i64_buffers, 0);
  };
  Series t_alone, t_shared, t_small, t_comm;
  for (int round = 0; round <= kRounds; ++round) {
    if (round == 1) {  // round 0 warmed up caches, allocator and MPI's connections
      t_alone = t_shared = t_small = t_comm = Series{};
      waits.clear();
      small_waits.clear();
    }
    t_alone.time(step_alone);
    t_shared.time(step_shared);
    t_small.time(step_small);
    t_comm.time(communicate);
  }
  const double comm = median(t_comm.seconds);
  const double exposed = min_over_ranks(median(waits));
  const double small_exposed = min_over_ranks(median(small_waits));
  cpu_set_t cpus;
  sched_getaffinity(0, sizeof cpus, &cpus);
  const double min_cpus = min_over_ranks(CPU_COUNT(&cpus));
  if (distributed::rank() == 0) {
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    std::printf(
        "# %d ranks; cores each rank may run on: at least %.0f; matrix-product threads %d; "
        "load average %.2f %.2f %.2f\n",
        ranks, min_cpus, get_num_threads(), load[0], load[1], load[2]);
    std::vector<double> speedups, small_speedups;
    for (int r = 0; r < kRounds; ++r) {
      speedups.push_back(ranks * t_alone.seconds[r] / t_shared.seconds[r]);
      small_speedups.push_back(ranks * t_alone.seconds[r] / t_small.seconds[r]);
    }
    const double speedup = median(speedups);
    std::printf("ddp_step_alone %.1f images/s\n", kBatch / median(t_alone.seconds));
    std::printf("ddp_step_%d_ranks %.1f images/s\n", ranks,
                ranks * kBatch / median(t_shared.seconds));
    std::printf("ddp_step_speedup %.3f x (of %d)\n", speedup, ranks);
    std::printf("ddp_step_efficiency %.3f\n", speedup / ranks);
    std::printf("ddp_step_communication %.1f us (%lld gradient elements, %lld of buffers)\n",
                comm * 1e6, static_cast<long long>(gradient_elements),
                static_cast<long long>(f32_state - gradient_elements + i64_state));
    std::printf("ddp_step_hidden %.3f of the communication (waited %.1f us after backward)\n",
                std::clamp(1 - exposed / comm, 0.0, 1.0), exposed * 1e6);
    std::printf("ddp_step_small_buckets_speedup %.3f x (%zu buckets)\n", median(small_speedups),
                small_ddp.buckets().size());
    std::printf("ddp_step_small_buckets_hidden %.3f of the communication (waited %.1f us)\n",
                std::clamp(1 - small_exposed / comm, 0.0, 1.0), small_exposed * 1e6);
    std::printf(
        "# rounds' range: step alone %s us, shared %s us, speed-up %s; lowest CPU share of "
        "a rank %s (below 0.9: other processes took the core)\n",
        range(t_alone.seconds, 1e6, "%.0f-%.0f").c_str(),
        range(t_shared.seconds, 1e6, "%.0f-%.0f").c_str(), range(speedups, 1, "%.2f-%.2f").c_str(),
        range(t_shared.cpu_share, 1, "%.2f-%.2f").c_str());
  }
  distributed::finalize();
}
