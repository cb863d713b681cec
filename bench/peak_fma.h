// This core's single-precision peak, measured: the compute bound that
// mlp_step and transformer_step print beside their figures, on whatever x86
// machine they run.
//
// The probe runs independent chains of fused multiply-adds on the widest
// vectors the CPU executes, chosen at run time (AVX-512 where the CPU has it,
// else AVX2 with FMA), whatever -march the program was built with. Each FMA is
// one inline-assembly instruction on a register: the compiler can neither
// keep a chain in memory nor reorder the loops (GCC 12 interchanged the loops
// of a plain `chain = chain * scale + shift` version and kept the 24 chains
// on the stack, which measured 114 GFLOP/s on a Zen 5 core that executes 270),
// and there are enough chains to cover the FMA units' latency. 2 flops per
// lane per FMA.
//
// With PEAK_FMA_PEER=<path of the peers' peak_fma> in the environment,
// print_peak_fma also runs the peers' probe, in the same run, and prints its
// figure beside this one.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "bench.h"

namespace tether::bench {
namespace detail {

/// chain = chain * scale + shift, one FMA instruction.
template <class Vector>
[[gnu::always_inline]] inline void fma(Vector& chain, const Vector& scale, const Vector& shift) {
  asm("vfmadd213ps %2, %1, %0" : "+v"(chain) : "v"(scale), "v"(shift));
}

/// Keeps `chain` live: its FMAs are not dead code.
template <class Vector>
[[gnu::always_inline]] inline void keep(const Vector& chain) {
  asm volatile("" : : "v"(chain));
}

/// Runs `iterations` rounds of chain = chain * scale + shift on every chain:
/// the chains are temporaries of the caller, one per parameter, so that each
/// lives in a register of its own once inlined (an array of chains stayed in
/// memory).
template <class Vector, class... Chains>
[[gnu::always_inline]] inline void run_fma_chains(long iterations, const Vector& scale,
                                                  const Vector& shift, Chains&&... chains) {
  for (long n = 0; n < iterations; ++n) (fma(chains, scale, shift), ...);
  (keep(chains), ...);
}

/// Flops per second of `kChains` independent chains of `Vector` FMAs, best of
/// `samples`. Always inlined into a function compiled for the vector width.
template <class Vector, std::size_t kChains>
[[gnu::always_inline]] inline double fma_chains_flops(int samples) {
  constexpr int kLanes = sizeof(Vector) / sizeof(float);
  constexpr long kIterations = 1 << 18;  // under a millisecond: some samples run undisturbed
  const Vector scale = Vector{} + 0.999999f, shift = Vector{} + 1e-6f;
  double best = 0.0;
  for (int sample = 0; sample < samples; ++sample) {
    const auto start = std::chrono::steady_clock::now();
    [&]<std::size_t... I>(std::index_sequence<I...>) [[gnu::always_inline]] {
      run_fma_chains(kIterations, scale, shift, (Vector{} + (1.0f + 1e-3f * I))...);
    }
    (std::make_index_sequence<kChains>{});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * kLanes * kChains * kIterations / seconds);
  }
  return best;
}

// Beside two constants: 24 chains of 32 zmm registers, 12 of 16 ymm ones;
// either is more than the FMA units' latency times their count (2 x 4-5 cycles
// on current x86 cores).
using Vector512 = float __attribute__((vector_size(64)));
using Vector256 = float __attribute__((vector_size(32)));
[[gnu::target("avx512f")]] inline double fma512_flops(int samples) {
  return fma_chains_flops<Vector512, 24>(samples);
}
[[gnu::target("avx2,fma")]] inline double fma256_flops(int samples) {
  return fma_chains_flops<Vector256, 12>(samples);
}

/// The peers' probe's figure in `output`: the best sample (`max=`) of its
/// widest FMA line, comparable to this probe's best run; 0 if none.
inline double peer_fma_gflops(const std::string& output) {
  double best = 0.0;
  for (std::size_t line = output.find("variant=fma"); line != std::string::npos;
       line = output.find("variant=fma", line + 1)) {
    const std::size_t max = output.find(" max=", line);
    if (max != std::string::npos) best = std::max(best, std::atof(&output[max + 5]));
  }
  return best;
}

}  // namespace detail

/// The best of `samples` runs of the FMA probe on the calling thread, in
/// GFLOP/s; 0 on a CPU without FMA. Many short runs, because on a shared
/// machine the best run is the one nothing preempted.
inline double peak_fma_gflops(int samples = 100) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return detail::fma512_flops(samples) * 1e-9;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return detail::fma256_flops(samples) * 1e-9;
  return 0.0;
}

/// Measures the peak, prints it as `<program>_cpu_peak` and, when PEAK_FMA_PEER
/// names the peers' probe, runs it on one thread (on this process's CPUs), in
/// short samples as this probe's, and prints its best sample and the ratio
/// beside it. Returns this probe's peak
/// (0 without FMA).
inline double print_peak_fma(const std::string& program) {
  const double peak = peak_fma_gflops();
  if (peak > 0) figure(program + "_cpu_peak", peak, "GFLOP/s");
  const char* peer = std::getenv("PEAK_FMA_PEER");
  if (!peer) return peak;
  std::string output;
  if (FILE* pipe = popen((std::string(peer) +
                          " --max-threads 1 --samples 41 --fma-iters 1000000 --clock-iters 10000")
                             .c_str(),
                         "r")) {
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
    pclose(pipe);
  }
  const double peer_peak = detail::peer_fma_gflops(output);
  if (peer_peak <= 0) {
    comment(program + ": PEAK_FMA_PEER=" + peer + " printed no fma figure");
    return peak;
  }
  figure(program + "_cpu_peak_peer", peer_peak, "GFLOP/s");
  figure(program + "_cpu_peak.vs_peer", peak / peer_peak, "ratio");
  return peak;
}

}  // namespace tether::bench
