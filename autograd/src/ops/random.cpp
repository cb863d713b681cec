// Random draws. The integers are drawn on the host from the global generator,
// with detail::uniform_below rather than std::uniform_int_distribution, so a
// seed gives the same tensor on every standard library and every device.
// multinomial draws its uniforms the same way and lets the device's kernel
// turn them into indices.
#include <algorithm>
#include <limits>
#include <span>

#include "op_util.h"
#include "tether/generator.h"
#include "tether/grad_mode.h"

namespace tether {

using namespace ops;

namespace {

/// An i64 host tensor of `shape` that `fill` writes, then in the dtype (i64
/// unless asked) and on the device that `options` ask for. The tensor is
/// allocated before anything is drawn, so a shape too large for memory is
/// refused as any other tensor's is.
template <typename Fill>
Tensor draw_integers(const char* op, const Shape& shape, const TensorOptions& options, Fill fill) {
  refuse_in_capture("an integer random draw (randint, randperm)");
  Tensor host = Tensor::empty(shape, DType::i64, Device::cpu(), op);
  fill(std::span(host.data_ptr<std::int64_t>(), static_cast<std::size_t>(host.numel())));
  Tensor out = host.to(options.dtype_or(DType::i64)).to(options.device);
  if (options.requires_grad) out.requires_grad_();
  return out;
}

/// The number of x's elements in [low, high], counted on x's device: a NaN
/// compares false both ways and so is never counted.
double count_in(const Tensor& x, double low, double high) {
  return sum((x >= low).to(DType::f64) * (x <= high).to(DType::f64)).item<double>();
}

/// The largest finite value of floating `dtype` (a larger bound would round
/// to infinity in an f32 comparison and let infinities through).
double largest_finite(DType dtype) {
  return dtype == DType::f32 ? std::numeric_limits<float>::max()
                             : std::numeric_limits<double>::max();
}

}  // namespace

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options) {
  if (low >= high)
    fail<ValueError>("randint: expected low < high, got low ", low, " and high ", high);
  // The width of the range fits an unsigned word even for [INT64_MIN, INT64_MAX).
  const std::uint64_t width = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  return draw_integers("randint", shape, options, [&](std::span<std::int64_t> values) {
    auto& generator = detail::global_generator();
    for (auto& value : values)
      value = static_cast<std::int64_t>(static_cast<std::uint64_t>(low) +
                                        detail::uniform_below(generator, width));
  });
}

Tensor randint(std::int64_t high, const Shape& shape, TensorOptions options) {
  return randint(0, high, shape, options);
}

Tensor randperm(std::int64_t n, TensorOptions options) {
  if (n < 0) fail<ValueError>("randperm: expected a non-negative n, got ", n);
  return draw_integers("randperm", {n}, options, [](std::span<std::int64_t> order) {
    detail::random_permutation(order, detail::global_generator());
  });
}

Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement) {
  check_floating("multinomial", probs);
  if (probs.dim() != 1 && probs.dim() != 2)
    fail<ShapeError>("multinomial: expected probs [C] or [R, C], got ", probs.shape());
  if (num_samples < 1)
    fail<ValueError>("multinomial: expected num_samples >= 1, got ", num_samples);
  NoGradGuard no_grad;
  const Tensor weights =
      contiguous(probs.detach().dim() == 1 ? probs.detach().unsqueeze(0) : probs.detach());
  const std::int64_t rows = weights.size(0), categories = weights.size(1);
  if (!replacement && num_samples > categories)
    fail<ValueError>("multinomial: cannot draw ", num_samples, " samples from ", categories,
                     " categories without replacement");
  if (count_in(weights, 0, largest_finite(weights.dtype())) != static_cast<double>(weights.numel()))
    fail<ValueError>("multinomial: expected finite, non-negative weights, got an infinity, a NaN ",
                     "or a negative weight");
  if (rows > 0) {
    const double fewest_positive = amin(sum((weights > 0).to(DType::f64), {1})).item<double>();
    if (fewest_positive < 1) fail<ValueError>("multinomial: a row of probs has no positive weight");
    if (!replacement && fewest_positive < static_cast<double>(num_samples))
      fail<ValueError>("multinomial: a row of probs has ", fewest_positive,
                       " positive weights, too few for ", num_samples,
                       " samples without replacement");
  }
  const Tensor uniforms = rand({rows, replacement ? num_samples : categories},
                               TensorOptions(DType::f64).with_device(probs.device()));
  Tensor out = Tensor::empty({rows, num_samples}, DType::i64, probs.device(), "multinomial");
  backend_of(out).multinomial(weights, uniforms, replacement, out);
  return probs.dim() == 1 ? out.squeeze(0) : out;
}

Tensor bernoulli(const Tensor& p) {
  check_floating("bernoulli", p);
  NoGradGuard no_grad;
  const Tensor probability = p.detach();
  if (count_in(probability, 0, 1) != static_cast<double>(probability.numel()))
    fail<ValueError>("bernoulli: expected every probability in [0, 1], got ",
                     amin(probability).item<double>(), " to ", amax(probability).item<double>());
  return (rand(p.shape(), p.options()) < probability).to(p.dtype());
}

}  // namespace tether
