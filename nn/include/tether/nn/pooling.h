// Pooling: MaxPool2d and AvgPool2d as torch.nn's, the maximum or mean of each
// window of the patches Unfold2d gathers (see conv.h).
#pragma once

#include <optional>

#include "tether/nn/conv.h"

namespace tether::nn {

/// A pooling layer's stride: a Size2d, or none for "the kernel's size", as
/// torch.nn's stride=None. Unlike std::optional<Size2d> it takes a braced
/// pair, so `MaxPool2d(2, {2, 1})` reads as in PyTorch.
struct PoolingStride {
  PoolingStride(std::nullopt_t = std::nullopt) {}           // NOLINT: implicit by design
  PoolingStride(std::int64_t both) : size(Size2d(both)) {}  // NOLINT: implicit by design
  PoolingStride(std::int64_t height, std::int64_t width) : size(Size2d(height, width)) {}
  PoolingStride(Size2d size) : size(size) {}  // NOLINT: implicit by design
  std::optional<Size2d> size;
};

/// x [N, C, H, W] -> [N, C, H_out, W_out], H_out = (H + 2 padding - kernel) /
/// stride + 1, each the maximum of its window (max_pool2d, ops.h); padding
/// counts as -inf. As in PyTorch, the gradient goes to the first element
/// holding its window's maximum (a NaN counting as the largest).
class MaxPool2d : public UnaryModule {
 public:
  /// stride defaults to kernel. Throws ValueError for a non-positive kernel or
  /// stride, or a padding above half the kernel.
  explicit MaxPool2d(Size2d kernel, PoolingStride stride = std::nullopt, Size2d padding = 0);
  /// Throws ShapeError unless x is 4-d and at least the kernel after padding.
  Tensor forward(const Tensor& x) override;

 private:
  Unfold2d unfold_;
};

/// As MaxPool2d with each window's mean. Padding counts as 0; with
/// count_include_pad the mean divides by the kernel's size, without it by the
/// number of input elements in the window.
class AvgPool2d : public UnaryModule {
 public:
  explicit AvgPool2d(Size2d kernel, PoolingStride stride = std::nullopt, Size2d padding = 0,
                     bool count_include_pad = true);
  /// Throws as MaxPool2d::forward.
  Tensor forward(const Tensor& x) override;

 private:
  Unfold2d unfold_;
  bool count_include_pad_;
};

}  // namespace tether::nn
