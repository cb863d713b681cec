// tether's all_reduce against Open MPI's own MPI_Allreduce in the same run:
// f32 sums of 1 KB to 64 MB, in place on the same buffer, on the same
// communicator's ranks, each side warmed up by one call per size, then timed
// in alternating rounds (so a disturbed period on a shared machine hits both
// alike), the median round kept. Run under MPI, e.g.
//   mpirun -np 2 build/bench/allreduce       (add --oversubscribe beyond the cores)
// Rank 0 prints `name value unit` lines: each side's bandwidth (bytes reduced
// per second) and tether's as a fraction of MPI's (the median of the rounds'
// ratios, with their range in a comment).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
    const Tensor t = zeros({elements});  // zeros: the sums stay zeros, never denormal
    const auto tether_call = [&] { distributed::all_reduce(t); };
    const auto mpi_call = [&] {
      MPI_Allreduce(MPI_IN_PLACE, t.raw_data(), static_cast<int>(elements), MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
    };
    tether_call();
    mpi_call();
    std::vector<double> tether_seconds, mpi_seconds, ratios;
    for (int round = 0; round < kRounds; ++round) {
      tether_seconds.push_back(time_calls(calls, tether_call));
      mpi_seconds.push_back(time_calls(calls, mpi_call));
      ratios.push_back(mpi_seconds.back() / tether_seconds.back());
    }
    const double reduced = static_cast<double>(bytes) * calls;
    if (distributed::rank() == 0) {
      const long kb = static_cast<long>(bytes / 1024);
      std::printf("allreduce_tether_%ldKB %.3f GB/s\n", kb, reduced / median(tether_seconds) / 1e9);
      std::printf("allreduce_mpi_%ldKB %.3f GB/s\n", kb, reduced / median(mpi_seconds) / 1e9);
      std::printf("allreduce_ratio_%ldKB %.3f tether/mpi\n", kb, median(ratios));
      std::sort(ratios.begin(), ratios.end());
      std::printf("# %ld KB: rounds' ratios %.3f-%.3f\n", kb, ratios.front(), ratios.back());
      std::fflush(stdout);
    }
  }
  if (distributed::rank() == 0) {
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    std::printf("# load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  }
  distributed::finalize();
}
