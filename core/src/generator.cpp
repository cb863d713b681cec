#include "tether/generator.h"

#include <cmath>
#include <numeric>
#include <utility>

namespace tether {

namespace detail {
std::mt19937_64& global_generator() {
  static std::mt19937_64 generator(0);
  return generator;
}

namespace {

/// Marsaglia and Tsang's ziggurat for the normal density f(x) = exp(-x^2 / 2),
/// with the 128 layers and constants of Doornik (2005): the area under f
/// (for x > 0) is covered by 128 horizontal strips of equal area kArea, strip
/// 0 being the base (a rectangle of width kTail plus the tail beyond it).
/// Strip i spans [0, x[i]] and its inner rectangle [0, x[i + 1]] lies wholly
/// under f, so a point drawn uniformly in the strip is accepted there without
/// evaluating f ~99% of the time.
class Ziggurat {
 public:
  static constexpr int kLayers = 128;
  static constexpr double kTail = 3.442619855899;       // x[1], where the tail starts
  static constexpr double kArea = 9.91256303526217e-3;  // of each strip

  Ziggurat() {
    double f = std::exp(-0.5 * kTail * kTail);
    x_[0] = kArea / f;  // the base strip's width, were it a rectangle
    x_[1] = kTail;
    x_[kLayers] = 0;
    for (int i = 2; i < kLayers; ++i) {  // strip i - 1 has area kArea
      x_[i] = std::sqrt(-2 * std::log(kArea / x_[i - 1] + f));
      f = std::exp(-0.5 * x_[i] * x_[i]);
    }
    for (int i = 0; i < kLayers; ++i) inner_[i] = x_[i + 1] / x_[i];
  }

  double sample(std::mt19937_64& engine) const {
    for (;;) {
      // One draw gives the layer (low 7 bits) and a uniform u in [-1, 1) (top 53).
      const std::uint64_t bits = engine();
      const int i = static_cast<int>(bits & (kLayers - 1));
      const double u = 2 * static_cast<double>(bits >> 11) * 0x1.0p-53 - 1;
      if (std::abs(u) < inner_[i]) return u * x_[i];  // inside the inner rectangle
      if (i == 0) return tail(engine, u < 0);
      // In the wedge between the rectangle and f: accept below f.
      const double x = u * x_[i];
      const double f_outer = std::exp(-0.5 * (x_[i] * x_[i] - x * x));
      const double f_inner = std::exp(-0.5 * (x_[i + 1] * x_[i + 1] - x * x));
      if (f_inner + uniform(engine) * (f_outer - f_inner) < 1) return x;
    }
  }

 private:
  static double uniform(std::mt19937_64& engine) {  // in (0, 1]
    return (static_cast<double>(engine() >> 11) + 1) * 0x1.0p-53;
  }

  /// Beyond kTail, by Marsaglia's exponential rejection method.
  static double tail(std::mt19937_64& engine, bool negative) {
    double x, y;
    do {
      x = std::log(uniform(engine)) / kTail;
      y = std::log(uniform(engine));
    } while (-2 * y < x * x);
    return negative ? x - kTail : kTail - x;
  }

  double x_[kLayers + 1];
  double inner_[kLayers];
};

}  // namespace

double standard_normal(std::mt19937_64& engine) {
  static const Ziggurat ziggurat;
  return ziggurat.sample(engine);
}

std::uint64_t uniform_below(std::mt19937_64& engine, std::uint64_t bound) {
  // The high word of draw * bound is uniform in [0, bound) once the low word's
  // few biased values (those below 2^64 mod bound) are rejected.
  unsigned __int128 product = static_cast<unsigned __int128>(engine()) * bound;
  auto low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = -bound % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(engine()) * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

void random_permutation(std::span<std::int64_t> order, std::mt19937_64& engine) {
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t i = order.size(); i-- > 1;)
    std::swap(order[i], order[uniform_below(engine, i + 1)]);
}

std::vector<std::int64_t> random_permutation(std::int64_t n, std::mt19937_64& engine) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  random_permutation(order, engine);
  return order;
}

}  // namespace detail

void manual_seed(std::uint64_t seed) {
  detail::global_generator().seed(seed);
}

}  // namespace tether
