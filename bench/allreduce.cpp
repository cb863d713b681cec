// tether's all_reduce against Open MPI's own MPI_Allreduce on buffers of the
// same size, in the same run: f32 sums of 1 KB to 64 MB, every size timed in
// alternating rounds (so a disturbed period on a shared machine hits both
// alike), the median round kept. Run under MPI, e.g.
//   mpirun -np 2 --oversubscribe build/bench/allreduce
// Rank 0 prints `name value unit` lines: each side's bandwidth (bytes reduced
// per second) and tether's as a fraction of MPI's.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "tether/distributed/distributed.h"
#include "tether/ops.h"

namespace {

using namespace tether;

/// Seconds for `calls` calls of `body` on every rank (the slowest rank's).
double time_calls(int calls, const std::function<void()>& body) {
  distributed::barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) body();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return seconds;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main() {
  distributed::init();
  constexpr int kRounds = 7;
  for (std::int64_t bytes = 1024; bytes <= 64 * 1024 * 1024; bytes *= 4) {
    const std::int64_t elements = bytes / 4;
    // About 64 MB reduced per round, at least 3 calls.
    const int calls = static_cast<int>(std::max<std::int64_t>(3, 64 * 1024 * 1024 / bytes));
    const Tensor t = zeros({elements});
    std::vector<float> raw(static_cast<std::size_t>(elements), 0.0f);
    std::vector<double> tether_seconds, mpi_seconds;
    for (int round = 0; round < kRounds; ++round) {
      tether_seconds.push_back(time_calls(calls, [&] { distributed::all_reduce(t); }));
      mpi_seconds.push_back(time_calls(calls, [&] {
        MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(elements), MPI_FLOAT, MPI_SUM,
                      MPI_COMM_WORLD);
      }));
    }
    const double reduced = static_cast<double>(bytes) * calls;
    const double tether_gbps = reduced / median(tether_seconds) / 1e9;
    const double mpi_gbps = reduced / median(mpi_seconds) / 1e9;
    if (distributed::rank() == 0) {
      const long kb = static_cast<long>(bytes / 1024);
      std::printf("allreduce_tether_%ldKB %.3f GB/s\n", kb, tether_gbps);
      std::printf("allreduce_mpi_%ldKB %.3f GB/s\n", kb, mpi_gbps);
      std::printf("allreduce_ratio_%ldKB %.3f tether/mpi\n", kb, tether_gbps / mpi_gbps);
      std::fflush(stdout);
    }
  }
  distributed::finalize();
}
