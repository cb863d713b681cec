#include "tether/nn/pooling.h"

#include <string>

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

/// The window of a pooling layer; PyTorch bounds the padding so that no window
/// lies wholly in it.
Window2d pooling_window(const std::string& layer, Size2d kernel, PoolingStride stride,
                        Size2d padding) {
  if (padding.height > kernel.height / 2 || padding.width > kernel.width / 2)
    fail<ValueError>(layer, ": expected padding at most half the kernel (", kernel.height, ", ",
                     kernel.width, "), got (", padding.height, ", ", padding.width, ")");
  return {kernel, stride.size.value_or(kernel), padding};
}

/// patches [C, taps, L, N] reduced over taps by `reduce`, as [N, C, H_out, W_out].
template <class Reduce>
Tensor pool(Unfold2d& unfold, const Tensor& x, double pad_value, Reduce reduce) {
  const Tensor patches = unfold(x, pad_value);
  const Size2d out = unfold.output_size(x.size(2), x.size(3));
  return reduce(patches)
      .reshape({x.size(1), out.height, out.width, x.size(0)})
      .permute({3, 0, 1, 2})
      .contiguous();
}

/// [C, L, 1]: how many elements of x [N, C, H, W] (not padding) each window
/// holds, as the window sums of an all-ones input (of x's C channels, which
/// keeps the gather's cached index).
Tensor window_counts(Unfold2d& unfold, const Tensor& x) {
  NoGradGuard no_grad;
  const TensorOptions options = x.options();
  return sum(unfold(ones({1, x.size(1), x.size(2), x.size(3)}, options), 0.0), {1});
}

}  // namespace

MaxPool2d::MaxPool2d(Size2d kernel, PoolingStride stride, Size2d padding)
    : unfold_("MaxPool2d", pooling_window("MaxPool2d", kernel, stride, padding)) {}

Tensor MaxPool2d::forward(const Tensor& x) {
  unfold_.checked_output_size(x);  // errors name the layer
  const Window2d& w = unfold_.window();
  return max_pool2d(x, {{w.kernel.height, w.kernel.width},
                        {w.stride.height, w.stride.width},
                        {w.padding.height, w.padding.width},
                        {w.dilation.height, w.dilation.width}});
}

AvgPool2d::AvgPool2d(Size2d kernel, PoolingStride stride, Size2d padding, bool count_include_pad)
    : unfold_("AvgPool2d", pooling_window("AvgPool2d", kernel, stride, padding)),
      count_include_pad_(count_include_pad) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  if (count_include_pad_)
    return pool(unfold_, x, 0.0, [](const Tensor& patches) { return mean(patches, {1}); });
  return pool(unfold_, x, 0.0,
              [&](const Tensor& patches) { return sum(patches, {1}) / window_counts(unfold_, x); });
}

}  // namespace tether::nn
