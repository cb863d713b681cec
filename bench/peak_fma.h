// This core's single-precision peak, measured: the compute bound that
// mlp_step prints beside its figures, on whatever machine it runs.
//
// The probe runs independent chains of fused multiply-adds on the widest
// vectors the compiler targets (AVX-512 or AVX2; the program is built with
// -march=native and -ffp-contract=fast, so `a * b + c` is one FMA), enough
// chains to cover the FMA units' latency, and counts 2 flops per lane per
// FMA. The peers' probe (../shared/peers, peak_fma) measured 216 GFLOP/s on
// one core of their AVX-512 machine; an AVX2 core does half as many flops per
// cycle.
#pragma once

#include <algorithm>
#include <chrono>

namespace tether::bench {

/// The best of `samples` runs of the FMA probe on the calling thread, in
/// GFLOP/s; 0 when the program was not compiled for a CPU with FMA.
inline double peak_fma_gflops(int samples = 20) {
#if defined(__FMA__) || defined(__AVX512F__)
  // As many chains as fit in registers beside the two constants (a spilled
  // chain would measure loads and stores), and more than the FMA units'
  // latency times their count (2 x 4-5 cycles on current x86 cores).
#if defined(__AVX512F__)
  using Vector = float __attribute__((vector_size(64)));
  constexpr int kChains = 24;  // of 32 zmm registers
#else
  using Vector = float __attribute__((vector_size(32)));
  constexpr int kChains = 12;  // of 16 ymm registers
#endif
  constexpr int kLanes = sizeof(Vector) / sizeof(float);
  constexpr long kIterations = 1 << 22;
  double best = 0.0;
  for (int sample = 0; sample < samples; ++sample) {
    Vector chains[kChains];
    for (int i = 0; i < kChains; ++i) chains[i] = Vector{} + (1.0f + 1e-3f * static_cast<float>(i));
    const Vector scale = Vector{} + 0.999999f, shift = Vector{} + 1e-6f;
    const auto start = std::chrono::steady_clock::now();
    for (long n = 0; n < kIterations; ++n)
      for (Vector& chain : chains) chain = chain * scale + shift;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (Vector& chain : chains) asm volatile("" : : "x"(chain));  // keeps the chains live
    best = std::max(best, 2.0 * kLanes * kChains * kIterations / seconds);
  }
  return best * 1e-9;
#else
  (void)samples;
  return 0.0;
#endif
}

}  // namespace tether::bench
