#include "tether/nn/upsampling.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

/// How an axis of `inputs` elements becomes `outputs`: output o is the sum
/// over k < per_output of input index[o per_output + k] times its weight. An
/// index equal to `inputs` reads a zero, which pads a short pooling window,
/// so no weight ever multiplies an element outside its window (0 * inf
/// would make a NaN there that torch does not).
struct Taps {
  std::int64_t outputs = 0;
  std::int64_t per_output = 1;
  std::vector<std::int64_t> index;
  std::vector<double> weight;  ///< empty: every weight is 1
};

/// x resampled along `dim` by `taps`.
Tensor resample(const Tensor& x, int dim, const Taps& taps) {
  const std::int64_t inputs = x.size(dim);
  Tensor source = x;
  if (std::find(taps.index.begin(), taps.index.end(), inputs) != taps.index.end()) {
    Shape zero_row = x.shape();
    zero_row[dim] = 1;
    source = cat({x, zeros(zero_row, x.options())}, dim);
  }
  const auto count = static_cast<std::int64_t>(taps.index.size());
  std::vector<double> index(taps.index.begin(), taps.index.end());
  const Tensor picked = index_select(
      source, dim, tensor(index, {count}, TensorOptions(DType::i64).with_device(x.device())));
  if (taps.weight.empty()) return picked;
  Shape split = x.shape();
  split[dim] = taps.outputs;
  split.insert(dim + 1, taps.per_output);
  Shape weight_shape = Shape::filled(x.dim() - dim + 1, 1);
  weight_shape[0] = taps.outputs;
  weight_shape[1] = taps.per_output;
  return sum(picked.reshape(split) * tensor(taps.weight, weight_shape, x.options()), {dim + 1});
}

/// Mean of torch's adaptive windows [floor(o in / out), ceil((o + 1) in / out)).
Taps adaptive_average_taps(std::int64_t inputs, std::int64_t outputs) {
  const auto start = [&](std::int64_t o) { return o * inputs / outputs; };
  const auto end = [&](std::int64_t o) { return ((o + 1) * inputs + outputs - 1) / outputs; };
  Taps taps{outputs, 1, {}, {}};
  for (std::int64_t o = 0; o < outputs; ++o)
    taps.per_output = std::max(taps.per_output, end(o) - start(o));
  for (std::int64_t o = 0; o < outputs; ++o) {
    const std::int64_t length = end(o) - start(o);
    for (std::int64_t k = 0; k < taps.per_output; ++k) {
      taps.index.push_back(k < length ? start(o) + k : inputs);
      taps.weight.push_back(k < length ? 1.0 / static_cast<double>(length) : 0.0);
    }
  }
  return taps;
}

/// torch's compute_scales_value: 1 / scale_factor where given, else in / out,
/// in T (float for nearest, the input's dtype for bilinear).
template <class T>
T source_scale(std::optional<double> scale_factor, std::int64_t inputs, std::int64_t outputs) {
  return scale_factor ? static_cast<T>(1.0 / *scale_factor)
                      : static_cast<T>(inputs) / static_cast<T>(outputs);
}

/// One axis of interpolate: its extents and the scale factor torch's kernel
/// receives (none when the output size was given).
struct Axis {
  std::int64_t inputs;
  std::int64_t outputs;
  std::optional<double> scale_factor;
};

/// Refuses an output extent whose taps (at least one i64 index per output
/// along the axis) could not be allocated, as a tensor of that many elements
/// is refused: a ShapeError or OutOfMemoryError naming `op`, before the taps
/// are built on the host (an empty batch would not allocate the output).
void check_allocatable(const std::string& op, std::int64_t outputs) {
  Tensor::empty({outputs}, DType::i64, Device::cpu(), op.c_str());
}

/// Axis `dim` of interpolate's output for x, checked, errors naming `op`.
Axis interpolate_axis(const std::string& op, const Tensor& x, int dim,
                      const InterpolateOptions& options) {
  const bool height = dim == 2;
  if (options.size) {
    const std::int64_t outputs = height ? options.size->height : options.size->width;
    check_allocatable(op, outputs);
    return {x.size(dim), outputs, {}};
  }
  const double scale = height ? options.scale_factor->height : options.scale_factor->width;
  // torch floors the product in double.
  const double product = static_cast<double>(x.size(dim)) * scale;
  if (!(product < 0x1p63))
    fail<ShapeError>(op, ": scale_factor ", scale, " makes an output extent of ", product,
                     " along dim ", dim, " of input ", x.shape(), ", beyond a 64-bit size");
  const auto outputs = static_cast<std::int64_t>(product);
  if (outputs == 0)
    fail<ValueError>(op, ": expected a non-empty output, got size 0 along dim ", dim, " of input ",
                     x.shape(), " with scale_factor ", scale);
  check_allocatable(op, outputs);
  return {x.size(dim), outputs, scale};
}

/// torch's nearest_idx: the source of output o.
Taps nearest_taps(const Axis& axis) {
  const auto [inputs, outputs, scale_factor] = axis;
  const float scale = source_scale<float>(scale_factor, inputs, outputs);
  Taps taps{outputs, 1, {}, {}};
  for (std::int64_t o = 0; o < outputs; ++o) {
    if (outputs == inputs)
      taps.index.push_back(o);
    else if (outputs == 2 * inputs)
      taps.index.push_back(o / 2);
    else
      taps.index.push_back(std::min(
          static_cast<std::int64_t>(std::floor(static_cast<float>(o) * scale)), inputs - 1));
  }
  return taps;
}

/// torch's compute_source_index_and_lambda, computed in T as torch does for
/// inputs of dtype T: two neighbours and their linear weights.
template <class T>
Taps bilinear_taps(const Axis& axis, bool align_corners) {
  const auto [inputs, outputs, scale_factor] = axis;
  const T scale =
      align_corners
          ? (outputs > 1 ? static_cast<T>(inputs - 1) / static_cast<T>(outputs - 1) : T(0))
          : source_scale<T>(scale_factor, inputs, outputs);
  Taps taps{outputs, 2, {}, {}};
  for (std::int64_t o = 0; o < outputs; ++o) {
    if (outputs == inputs) {
      taps.index.insert(taps.index.end(), {o, o});
      taps.weight.insert(taps.weight.end(), {1.0, 0.0});
      continue;
    }
    const T at = static_cast<T>(o);
    const T real = align_corners ? scale * at : std::max(scale * (at + T(0.5)) - T(0.5), T(0));
    const auto low = static_cast<std::int64_t>(real);
    const T upper_weight = std::clamp(real - static_cast<T>(low), T(0), T(1));
    taps.index.insert(taps.index.end(), {low, low + (low < inputs - 1 ? 1 : 0)});
    taps.weight.insert(taps.weight.end(), {T(1) - upper_weight, upper_weight});
  }
  return taps;
}

void check_image(const std::string& op, const Tensor& x, int min_dim) {
  if (x.dim() < min_dim || x.dim() > 4)
    fail<ShapeError>(op, ": expected input ", min_dim == 3 ? "[C, H, W] or " : "",
                     "[N, C, H, W], got ", x.shape());
  if (x.size(-1) == 0 || x.size(-2) == 0)
    fail<ShapeError>(op, ": expected non-empty H and W, got input ", x.shape());
  if (!is_floating(x.dtype()))
    fail<DTypeError>(op, ": expected a floating-point input, got ", x.dtype());
}

void check_output_size(const std::string& op, AdaptiveSize2d size) {
  if (size.height.value_or(0) < 0 || size.width.value_or(0) < 0)
    fail<ValueError>(op, ": expected a non-negative output_size, got (",
                     size.height ? std::to_string(*size.height) : "None", ", ",
                     size.width ? std::to_string(*size.width) : "None", ")");
}

void check_interpolate_options(const std::string& op, const InterpolateOptions& options) {
  if (options.size.has_value() == options.scale_factor.has_value())
    fail<ValueError>(op, ": expected exactly one of size and scale_factor, got ",
                     options.size ? "both" : "neither");
  if (options.size && (options.size->height <= 0 || options.size->width <= 0))
    fail<ValueError>(op, ": expected a positive size, got (", options.size->height, ", ",
                     options.size->width, ")");
  if (options.scale_factor &&
      !(options.scale_factor->height > 0 && options.scale_factor->width > 0))
    fail<ValueError>(op, ": expected a positive scale_factor, got (", options.scale_factor->height,
                     ", ", options.scale_factor->width, ")");
  if (options.mode == InterpolateMode::nearest && options.align_corners)
    fail<ValueError>(op, ": align_corners can only be set with mode bilinear, not nearest");
}

/// adaptive_avg_pool2d, its errors naming `op`.
Tensor adaptive_average(const std::string& op, const Tensor& x, AdaptiveSize2d output_size) {
  check_output_size(op, output_size);
  check_image(op, x, 3);
  const int h = x.dim() - 2;
  const int w = x.dim() - 1;
  check_allocatable(op, output_size.height.value_or(0));
  check_allocatable(op, output_size.width.value_or(0));
  // Along W, then along H: the mean of a rectangle is the mean of its rows' means.
  const Tensor rows =
      resample(x, w, adaptive_average_taps(x.size(w), output_size.width.value_or(x.size(w))));
  return resample(rows, h,
                  adaptive_average_taps(x.size(h), output_size.height.value_or(x.size(h))));
}

/// interpolate, its errors naming `op`.
Tensor resize(const std::string& op, const Tensor& x, const InterpolateOptions& options) {
  check_interpolate_options(op, options);
  check_image(op, x, 4);
  const Axis h = interpolate_axis(op, x, 2, options);
  const Axis w = interpolate_axis(op, x, 3, options);
  if (options.mode == InterpolateMode::nearest)
    return resample(resample(x, 3, nearest_taps(w)), 2, nearest_taps(h));
  // Along W, then along H, as torch's kernel nests them (so the sums round alike).
  const bool corners = options.align_corners.value_or(false);
  const auto taps = [&](const Axis& axis) {
    return x.dtype() == DType::f32 ? bilinear_taps<float>(axis, corners)
                                   : bilinear_taps<double>(axis, corners);
  };
  return resample(resample(x, 3, taps(w)), 2, taps(h));
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, AdaptiveSize2d output_size) {
  return adaptive_average("adaptive_avg_pool2d", x, output_size);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(AdaptiveSize2d output_size) : output_size_(output_size) {
  check_output_size("AdaptiveAvgPool2d", output_size);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return adaptive_average("AdaptiveAvgPool2d", x, output_size_);
}

Tensor interpolate(const Tensor& x, const InterpolateOptions& options) {
  return resize("interpolate", x, options);
}

Upsample::Upsample(InterpolateOptions options) : options_(options) {
  check_interpolate_options("Upsample", options);
}

Tensor Upsample::forward(const Tensor& x) {
  return resize("Upsample", x, options_);
}

}  // namespace tether::nn
