// Resampling images [N, C, H, W] along H and W, as torch.nn's: Upsample and
// interpolate (nearest, bilinear), and AdaptiveAvgPool2d. Each output
// element along an axis is a weighted sum of a few input elements ("taps")
// chosen by torch's index and weight conventions, so the values match
// torch's and the gradients come from index_select, mul and sum.
//
//   Tensor y = nn::interpolate(x, {.scale_factor = 2.0, .mode = nn::InterpolateMode::bilinear});
//   nn::AdaptiveAvgPool2d pool(1);  // global average pooling: [N, C, H, W] -> [N, C, 1, 1]
#pragma once

#include <cstdint>
#include <optional>

#include "tether/nn/conv.h"

namespace tether::nn {

/// An adaptive pooling's output size: both sides, or each side with
/// std::nullopt for "the input's size", as torch's output_size=(None, 7).
struct AdaptiveSize2d {
  AdaptiveSize2d(std::int64_t both) : height(both), width(both) {}  // NOLINT: implicit by design
  AdaptiveSize2d(std::optional<std::int64_t> height, std::optional<std::int64_t> width)
      : height(height), width(width) {}
  std::optional<std::int64_t> height;
  std::optional<std::int64_t> width;
};

/// x [N, C, H, W] or [C, H, W] -> [..., out_h, out_w]: output (i, j) is the
/// mean of rows floor(i H / out_h) to ceil((i + 1) H / out_h) (exclusive)
/// and the columns alike, as torch.nn.functional.adaptive_avg_pool2d.
/// Throws ValueError for a negative output size, ShapeError unless x is
/// 3-d or 4-d with H, W > 0, DTypeError unless x is floating-point.
Tensor adaptive_avg_pool2d(const Tensor& x, AdaptiveSize2d output_size);

/// adaptive_avg_pool2d as a module, as torch.nn.AdaptiveAvgPool2d.
class AdaptiveAvgPool2d : public UnaryModule {
 public:
  /// Throws ValueError for a negative output size.
  explicit AdaptiveAvgPool2d(AdaptiveSize2d output_size);
  /// As adaptive_avg_pool2d; errors name AdaptiveAvgPool2d.
  Tensor forward(const Tensor& x) override;

 private:
  AdaptiveSize2d output_size_;
};

/// Scale factors for H and W: one for both, or a pair.
struct Scale2d {
  Scale2d(double both) : height(both), width(both) {}  // NOLINT: implicit by design
  Scale2d(double height, double width) : height(height), width(width) {}
  double height;
  double width;
};

enum class InterpolateMode { nearest, bilinear };

/// torch.nn.functional.interpolate's arguments: exactly one of size and
/// scale_factor; align_corners only with bilinear (unset means false).
struct InterpolateOptions {
  std::optional<Size2d> size = std::nullopt;
  std::optional<Scale2d> scale_factor = std::nullopt;
  InterpolateMode mode = InterpolateMode::nearest;
  std::optional<bool> align_corners = std::nullopt;
};

/// x [N, C, H, W] -> [N, C, out_h, out_w], out = size, or floor(H *
/// scale_factor) (and W alike). As torch 1.13 (recompute_scale_factor
/// unset): nearest takes source row min(floor(i * s), H - 1) with s = 1 /
/// scale_factor where given, else H / out_h (in f32, as torch); bilinear
/// blends rows floor(r) and floor(r) + 1 (the last row at the border) with
/// r = s i under align_corners, s = (H - 1) / (out_h - 1), and otherwise r =
/// max(s (i + 0.5) - 0.5, 0). Throws ValueError unless exactly one of size
/// and scale_factor is given, for a non-positive size or an empty output,
/// or for align_corners with nearest; ShapeError unless x is 4-d with H, W >
/// 0; DTypeError unless x is floating-point.
Tensor interpolate(const Tensor& x, const InterpolateOptions& options);

/// interpolate as a module, as torch.nn.Upsample(size, scale_factor, mode,
/// align_corners).
class Upsample : public UnaryModule {
 public:
  /// Throws ValueError as interpolate does for its options.
  explicit Upsample(InterpolateOptions options);
  /// As interpolate; errors name Upsample.
  Tensor forward(const Tensor& x) override;
  const InterpolateOptions& options() const { return options_; }

 private:
  InterpolateOptions options_;
};

}  // namespace tether::nn
