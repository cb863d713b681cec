// AdaptiveAvgPool2d, Upsample and interpolate: hand-checked values, gradcheck
// in f64 and errors that name the layer. torch's values, gradients and
// second-order gradients on more cases are replayed from
// tests/data/torch_reference/upsampling.json.
#include <catch2/catch.hpp>

#include <vector>

#include "nn_check.h"
#include "tensor_checks.h"
#include "tether/tether.h"

namespace tether {
namespace {

using Catch::Matchers::Contains;
using testing::f64;
using testing::max_abs_diff;

TEST_CASE("adaptive_avg_pool2d averages torch's overlapping windows", "[nn][upsampling]") {
  // Rows and columns {0, 1} and {1, 2} of 1..9: windows [floor(i 3 / 2), ceil((i + 1) 3 / 2)).
  const Tensor x = f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  check_values(nn::adaptive_avg_pool2d(x, 2), {3, 4, 6, 7});
  nn::AdaptiveAvgPool2d global(1);
  check_values(global(x), {5});
  CHECK(global.state_dict().empty());
  const Tensor columns = nn::adaptive_avg_pool2d(x.reshape({1, 3, 3}), {std::nullopt, 1});
  CHECK(columns.shape() == Shape{1, 3, 1});
  check_values(columns, {2, 5, 8});
}

TEST_CASE("interpolate nearest repeats torch's source rows floor(i * in / out)",
          "[nn][upsampling]") {
  const Tensor x = f64({1, 2, 3, 4}, {1, 1, 2, 2});
  check_values(nn::interpolate(x, {.scale_factor = 2.0}),
               {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // 2 / 3 per step: rows 0, 0, 1.
  check_values(nn::interpolate(x, {.size = 3}), {1, 1, 2, 1, 1, 2, 3, 3, 4});
}

TEST_CASE("interpolate bilinear blends neighbours, with and without align_corners",
          "[nn][upsampling]") {
  const Tensor x = f64({0, 1}, {1, 1, 1, 2});
  const nn::InterpolateOptions half_pixel{.size = nn::Size2d(1, 4),
                                          .mode = nn::InterpolateMode::bilinear};
  // Sources max((i + 0.5) / 2 - 0.5, 0): 0, 0.25, 0.75, 1.25 (clamped to the last column).
  check_values(nn::interpolate(x, half_pixel), {0, 0.25, 0.75, 1});
  nn::InterpolateOptions corners = half_pixel;
  corners.align_corners = true;
  check_values(nn::interpolate(x, corners), {0, 1.0 / 3, 2.0 / 3, 1});
  nn::Upsample upsample(corners);
  CHECK(max_abs_diff(upsample(x), nn::interpolate(x, corners)) == 0);
  CHECK(upsample.state_dict().empty());
}

TEST_CASE("adaptive_avg_pool2d and interpolate pass gradcheck and gradgradcheck in f64",
          "[nn][upsampling]") {
  manual_seed(31);
  const Tensor x = randn({2, 2, 3, 5}, DType::f64).requires_grad_();
  const std::vector<std::function<Tensor(const Tensor&)>> maps = {
      [](const Tensor& t) {
        return nn::adaptive_avg_pool2d(t, {2, 4});
      },
      [](const Tensor& t) {
        return nn::adaptive_avg_pool2d(t, {4, 7});
      },
      [](const Tensor& t) { return nn::interpolate(t, {.scale_factor = nn::Scale2d(1.5, 0.6)}); },
      [](const Tensor& t) {
        return nn::interpolate(t,
                               {.size = nn::Size2d(5, 4), .mode = nn::InterpolateMode::bilinear});
      },
      [](const Tensor& t) {
        return nn::interpolate(
            t, {.scale_factor = 2.0, .mode = nn::InterpolateMode::bilinear, .align_corners = true});
      },
  };
  for (const auto& map : maps) {
    const auto f = [&](const std::vector<Tensor>& in) { return map(in[0]); };
    CHECK(gradcheck(f, {x}));
    CHECK(gradgradcheck(f, {x}));
  }
}

TEST_CASE("AdaptiveAvgPool2d, Upsample and interpolate errors name the layer", "[nn][upsampling]") {
  const Tensor x = zeros({1, 1, 3, 3}, DType::f64);
  CHECK_THROWS_AS(nn::AdaptiveAvgPool2d(-1), ValueError);
  CHECK_THROWS_WITH(
      nn::AdaptiveAvgPool2d({2, -1}),
      Contains("AdaptiveAvgPool2d: expected a non-negative output_size, got (2, -1)"));
  nn::AdaptiveAvgPool2d pool(2);
  CHECK_THROWS_AS(pool(zeros({3, 3})), ShapeError);
  CHECK_THROWS_WITH(pool(zeros({3, 3})),
                    Contains("AdaptiveAvgPool2d: expected input [C, H, W] or [N, C, H, W]"));
  CHECK_THROWS_AS(nn::adaptive_avg_pool2d(zeros({1, 3, 3}, DType::i64), 2), DTypeError);
  CHECK_THROWS_WITH(nn::Upsample({.size = 4, .scale_factor = 2.0}),
                    Contains("Upsample: expected exactly one of size and scale_factor, got both"));
  CHECK_THROWS_WITH(
      nn::interpolate(x, {}),
      Contains("interpolate: expected exactly one of size and scale_factor, got neither"));
  CHECK_THROWS_WITH(nn::Upsample({.size = 4, .align_corners = false}),
                    Contains("Upsample: align_corners can only be set with mode bilinear"));
  CHECK_THROWS_AS(nn::Upsample({.size = nn::Size2d(0, 2)}), ValueError);
  CHECK_THROWS_AS(nn::Upsample({.scale_factor = -1.0}), ValueError);
  nn::Upsample shrink({.scale_factor = 0.2});
  CHECK_THROWS_WITH(shrink(x), Contains("Upsample: expected a non-empty output"));
  CHECK_THROWS_AS(shrink(zeros({3, 3, 3})), ShapeError);
}

}  // namespace
}  // namespace tether
