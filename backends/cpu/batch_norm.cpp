// Batch normalization in training: each channel's statistics, output and
// gradients in a few passes over its elements, the channels side by side on
// the pool. Sums run in double (as PyTorch's CPU kernel accumulates float) in
// interleaved partial sums, so that they vectorise.
#include <cmath>

#include "cpu_backend.h"
#include "tether/backend/parallel.h"

namespace tether::backend::cpu {
namespace {

/// A channel's elements are read in about this many passes (two sums and a
/// map, forward and backward alike): the work per element that the grain of
/// the split over channels counts.
constexpr std::int64_t kPassesPerElement = 4;

/// The extents of an input [N, C, M], and the channels' split over the pool.
struct Planes {
  std::int64_t batch, channels, size;

  explicit Planes(const Tensor& in)
      : batch(in.shape()[0]), channels(in.shape()[1]), size(in.numel() / (batch * channels)) {}

  /// Calls fn(c) for every channel c, the channels split over the pool.
  template <class F>
  void for_each_channel(F fn) const {
    const std::int64_t grain =
        std::max<std::int64_t>(1, kParallelGrain / (kPassesPerElement * batch * size));
    parallel_for(0, channels, grain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t c = begin; c < end; ++c) fn(c);
    });
  }
  /// The sum of f(offset) over channel c's elements (offsets into [N, C, M]),
  /// in double, in kLanes interleaved partial sums kept across its rows: one
  /// running sum would be a chain of dependent additions, a few cycles each.
  template <class F>
  double sum(std::int64_t c, F f) const {
    constexpr std::int64_t kLanes = 8;
    double lanes[kLanes] = {};
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = (n * channels + c) * size;
      std::int64_t m = 0;
      for (; m + kLanes <= size; m += kLanes)
        for (std::int64_t l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(f(row + m + l));
      for (; m < size; ++m) lanes[0] += static_cast<double>(f(row + m));
    }
    double total = 0;
    for (const double lane : lanes) total += lane;
    return total;
  }
  /// out[offset] = f(offset) over channel c's elements.
  template <class T, class F>
  void map(std::int64_t c, T* out, F f) const {
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = (n * channels + c) * size;
      for (std::int64_t m = 0; m < size; ++m) out[row + m] = f(row + m);
    }
  }
};

/// The data of `t` as T, or nullptr for an undefined tensor.
template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

}  // namespace

void CpuBackend::batch_norm(const Tensor& in, const Tensor& weight, const Tensor& bias, double eps,
                            const Tensor& out, const Tensor& mean, const Tensor& var) {
  visit_floating("batch_norm", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const Planes planes(in);
    const T* const x = in.data_ptr<T>();
    const T *const w = data_or_null<T>(weight), *const b = data_or_null<T>(bias);
    T* const y = out.data_ptr<T>();
    const auto count = static_cast<double>(planes.batch * planes.size);
    planes.for_each_channel([&](std::int64_t c) {
      // Two passes, as PyTorch's: the mean, then the squares about it.
      const double mu = planes.sum(c, [&](std::int64_t i) { return x[i]; }) / count;
      const double variance =
          planes.sum(c, [&](std::int64_t i) { return (x[i] - mu) * (x[i] - mu); }) / count;
      const double inv = 1 / std::sqrt(variance + eps);
      mean.data_ptr<T>()[c] = static_cast<T>(mu);
      var.data_ptr<T>()[c] = static_cast<T>(variance);
      // y = x * scale + shift, as PyTorch's CPU kernel.
      const auto scale = static_cast<T>(w ? inv * w[c] : inv);
      const auto shift = static_cast<T>((b ? b[c] : 0) - mu * scale);
      planes.map(c, y, [&](std::int64_t i) { return x[i] * scale + shift; });
    });
  });
}

void CpuBackend::batch_norm_backward(const Tensor& grad_out, const Tensor& in, const Tensor& weight,
                                     const Tensor& mean, const Tensor& var, double eps,
                                     const Tensor& grad_in, const Tensor& grad_weight,
                                     const Tensor& grad_bias) {
  visit_floating("batch_norm", in.dtype(), [&](auto type) {
    using T = typename decltype(type)::type;
    const Planes planes(in);
    const T *const x = in.data_ptr<T>(), *const g = grad_out.data_ptr<T>();
    const T* const w = data_or_null<T>(weight);
    const auto count = static_cast<double>(planes.batch * planes.size);
    planes.for_each_channel([&](std::int64_t c) {
      const double mu = mean.data_ptr<T>()[c];
      const double inv = 1 / std::sqrt(static_cast<double>(var.data_ptr<T>()[c]) + eps);
      const double sum_g = planes.sum(c, [&](std::int64_t i) { return g[i]; });
      const double sum_gx = planes.sum(c, [&](std::int64_t i) { return g[i] * (x[i] - mu); });
      if (grad_bias.defined()) grad_bias.data_ptr<T>()[c] = static_cast<T>(sum_g);
      if (grad_weight.defined()) grad_weight.data_ptr<T>()[c] = static_cast<T>(sum_gx * inv);
      if (!grad_in.defined()) return;
      // dx = (g - mean(g) - xhat * mean(g * xhat)) * invstd * w, xhat = (x - mu) * invstd,
      // as g * a + (x - mu) * k + shift per channel.
      const double a = inv * (w ? w[c] : 1);
      const auto g_scale = static_cast<T>(a), centre = static_cast<T>(mu);
      const auto x_scale = static_cast<T>(-a * inv * inv * sum_gx / count);
      const auto shift = static_cast<T>(-a * sum_g / count);
      planes.map(c, grad_in.data_ptr<T>(), [&](std::int64_t i) {
        return g[i] * g_scale + (x[i] - centre) * x_scale + shift;
      });
    });
  });
}

}  // namespace tether::backend::cpu
