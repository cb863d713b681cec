// Factories, named as in libtorch. Constant fills run the device's fill kernel;
// values computed element by element are produced on the CPU in f64 and copied
// when another dtype or device is asked for.
#include <cmath>
#include <random>
#include <type_traits>

#include "op_util.h"
#include "tether/generator.h"

namespace tether {

using namespace ops;

namespace {

Tensor finish(Tensor t, const TensorOptions& options) {
  if (options.requires_grad) t.requires_grad_();
  return t;
}

/// A tensor of `shape` filled with `value`; `op` names the factory in errors.
Tensor filled(const char* op, const Shape& shape, double value, const TensorOptions& options) {
  check_representable(op, value, options.dtype_or());
  Tensor out = Tensor::empty(shape, options.dtype_or(), options.device, op);
  backend_of(out).fill(out, value);
  return finish(out, options);
}

/// A tensor filled element by element from `value(i)`, computed in f64 on the
/// CPU and then converted to the requested dtype and device: a floating CPU
/// tensor takes each value as it is made (rounded as the copy kernel rounds),
/// any other is filled through an f64 host buffer and a copy. The requested
/// tensor is checked first, so that a shape it cannot hold fails before the
/// host buffer is made. Random values are drawn by a host action, so that
/// each replay of a captured step draws afresh.
enum class Values : bool { fixed, random };
template <class ValueAt>
Tensor generate(const char* op, const Shape& shape, const TensorOptions& options, ValueAt value,
                Values values = Values::fixed) {
  const DType dtype = options.dtype_or();
  Tensor out = Tensor::empty(shape, dtype, options.device, op);
  const bool in_place = is_floating(dtype) && options.device.is_cpu();
  const Tensor host = in_place ? out : Tensor::empty(shape, DType::f64, Device::cpu(), op);
  auto fill_host = [op, dtype, host, value] {
    const auto fill = [&](auto* data) {
      for (std::int64_t i = 0; i < host.numel(); ++i) {
        const double x = value(i);
        if (dtype == DType::i64) check_representable(op, x, dtype);
        data[i] = static_cast<std::remove_pointer_t<decltype(data)>>(x);
      }
    };
    if (host.dtype() == DType::f32)
      fill(host.data_ptr<float>());
    else
      fill(host.data_ptr<double>());
  };
  if (values == Values::random)
    host_action(fill_host);
  else
    fill_host();
  // The CPU copy converts dtypes; a copy to a device takes the requested dtype.
  if (!in_place) backend_of(out).copy(out.device().is_cpu() ? host : host.to(dtype), out);
  return finish(out, options);
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
  return finish(Tensor::empty(shape, options.dtype_or(), options.device), options);
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  return filled("full", shape, value, options);
}
Tensor zeros(const Shape& shape, TensorOptions options) {
  return filled("zeros", shape, 0.0, options);
}
Tensor ones(const Shape& shape, TensorOptions options) {
  return filled("ones", shape, 1.0, options);
}

Tensor full_like(const Tensor& like, double value) {
  check_defined("full_like", like);
  return full(like.shape(), value, like.options());
}
Tensor zeros_like(const Tensor& like) {
  check_defined("zeros_like", like);
  return full_like(like, 0.0);
}
Tensor ones_like(const Tensor& like) {
  check_defined("ones_like", like);
  return full_like(like, 1.0);
}

Tensor scalar_tensor(double value, TensorOptions options) {
  return filled("scalar_tensor", {}, value, options);
}

Tensor arange(Scalar end, TensorOptions options) {
  return arange(0, end, 1, options);
}

Tensor arange(Scalar start_scalar, Scalar end_scalar, Scalar step_scalar, TensorOptions options) {
  const double start = start_scalar.to_double(), end = end_scalar.to_double(),
               step = step_scalar.to_double();
  if (!std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    fail<ValueError>("arange: expected a finite start, end and step, got ", start, ", ", end,
                     " and ", step);
  if (step == 0.0 || (end - start) * step < 0.0)
    fail<ValueError>("arange: step ", step, " does not lead from ", start, " to ", end);
  const double steps = std::ceil((end - start) / step);
  // Converting a double beyond the int64 range is undefined behaviour: refuse it first.
  if (!(steps < 0x1p63))
    fail<ShapeError>("arange: from ", start, " to ", end, " by ", step, " is ", steps,
                     " elements, more than a 64-bit count can hold");
  const auto count = static_cast<std::int64_t>(steps);
  const bool floating = start_scalar.is_floating_point() || end_scalar.is_floating_point() ||
                        step_scalar.is_floating_point();
  options.dtype = options.dtype_or(floating ? default_float_dtype : DType::i64);
  return generate("arange", {count}, options, [&](std::int64_t i) { return start + step * i; });
}

Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options) {
  if (steps < 0) fail<ValueError>("linspace: steps must be non-negative, got ", steps);
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  return generate("linspace", {steps}, options, [&](std::int64_t i) {
    return i > 0 && i == steps - 1 ? end : start + step * static_cast<double>(i);
  });
}

Tensor eye(std::int64_t n, std::optional<std::int64_t> m, TensorOptions options) {
  const std::int64_t cols = m.value_or(n);
  if (n < 0 || cols < 0) fail<ValueError>("eye: sizes must be non-negative, got ", n, " x ", cols);
  return generate("eye", {n, cols}, options,
                  [cols](std::int64_t i) { return i / cols == i % cols ? 1.0 : 0.0; });
}

Tensor rand(const Shape& shape, TensorOptions options) {
  // k / 2^bits with k of as many random bits as the dtype's significand holds,
  // as torch.rand does: a double in [0, 1) converted to f32 rounds up to 1 once
  // in 2^25 draws (and libstdc++'s uniform_real_distribution can return 1 itself).
  const int bits = options.dtype_or() == DType::f32 ? 24 : 53;
  const double scale = std::ldexp(1.0, -bits);
  auto& generator = detail::global_generator();
  return generate(
      "rand", shape, options,
      [&generator, bits, scale](std::int64_t) {
        return static_cast<double>(generator() >> (64 - bits)) * scale;
      },
      Values::random);
}

Tensor randn(const Shape& shape, TensorOptions options) {
  auto& generator = detail::global_generator();
  return generate(
      "randn", shape, options,
      [&generator](std::int64_t) { return detail::standard_normal(generator); }, Values::random);
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
  if (static_cast<std::int64_t>(values.size()) != checked_numel("tensor", shape))
    fail<ShapeError>("tensor: ", values.size(), " values do not fill shape ", shape, " (",
                     shape.numel(), " elements)");
  return generate("tensor", shape, options, [&](std::int64_t i) { return values[i]; });
}

Tensor tensor(const std::vector<double>& values, TensorOptions options) {
  return tensor(values, {static_cast<std::int64_t>(values.size())}, options);
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter) {
  return Tensor::from_blob(data, shape, dtype, std::move(deleter));
}

}  // namespace tether
