// multinomial's sampling of one row of category weights, shared by the CPU
// loop and the CUDA kernel (one thread per row): the random numbers come from
// the caller, so both backends turn the same uniforms into the same indices.
#pragma once

#include <cmath>
#include <cstdint>

#include "integer_arithmetic.h"  // TETHER_HOST_DEVICE

namespace tether::backend {

/// Draws `samples` indices into out[0..samples) from the non-negative weights
/// w[0..categories) (not necessarily normalised; at least one positive, and
/// with `replacement` false at least `samples` positive).
///
/// With replacement, sample s is the category whose cumulative-weight interval
/// holds uniforms[s] * sum(w) (`samples` uniforms). Without replacement, each
/// category with w > 0 races to an exponential time -log(1 - u_j) / w_j
/// (`categories` uniforms) and the `samples` earliest win, in order of
/// arrival: Efraimidis and Spirakis' method, which draws the same distribution
/// as drawing one category at a time and removing it. Ties go to the lower index.
template <class T>
TETHER_HOST_DEVICE void multinomial_row(const T* w, std::int64_t categories, const double* uniforms,
                                        std::int64_t samples, bool replacement, std::int64_t* out) {
  if (replacement) {
    double total = 0;
    std::int64_t last_positive = 0;
    for (std::int64_t j = 0; j < categories; ++j) {
      total += static_cast<double>(w[j]);
      if (w[j] > 0) last_positive = j;
    }
    for (std::int64_t s = 0; s < samples; ++s) {
      const double target = uniforms[s] * total;
      // Rounding can leave the target at or past the last partial sum: the
      // last category that has weight takes it.
      std::int64_t chosen = last_positive;
      double cumulative = 0;
      for (std::int64_t j = 0; j < categories; ++j) {
        cumulative += static_cast<double>(w[j]);
        if (w[j] > 0 && target < cumulative) {
          chosen = j;
          break;
        }
      }
      out[s] = chosen;
    }
    return;
  }
  // Each pass picks the earliest arrival after the previous pick (by time,
  // then index), so no per-row scratch memory is needed.
  double previous_time = -1;
  std::int64_t previous = -1;
  for (std::int64_t s = 0; s < samples; ++s) {
    double best_time = INFINITY;
    std::int64_t best = -1;
    for (std::int64_t j = 0; j < categories; ++j) {
      if (!(w[j] > 0)) continue;
      const double time = -log1p(-uniforms[j]) / static_cast<double>(w[j]);
      const bool after_previous = time > previous_time || (time == previous_time && j > previous);
      if (after_previous && (best < 0 || time < best_time)) {
        best_time = time;
        best = j;
      }
    }
    out[s] = best;
    previous_time = best_time;
    previous = best;
  }
}

}  // namespace tether::backend
