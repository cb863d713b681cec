// ConvTranspose1d, ConvTranspose2d and conv_transpose2d: hand-checked
// values, the adjoint of Conv2d, torch's weight layout and initialisation,
// gradcheck in f64 and errors that name the layer. torch's values and
// gradients on more cases are replayed from
// tests/data/torch_reference/upsampling.json.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "nn_check.h"
#include "tensor_checks.h"
#include "tether/tether.h"

namespace tether {
namespace {

using Catch::Matchers::Contains;
using testing::f64;

TEST_CASE("ConvTranspose1d adds a copy of the kernel per input element, stride apart",
          "[nn][conv_transpose]") {
  const Tensor x = f64({1, 2}, {1, 1, 2});
  const Tensor weight = f64({1, 10}, {1, 1, 2});
  nn::ConvTranspose1d overlapping(1, 1, 2, 1, 0, 0, 1, false, 1, DType::f64);
  overlapping.weight = make_parameter(weight);
  check_values(overlapping(x), {1, 12, 20});
  nn::ConvTranspose1d strided(1, 1, 2, 2, 0, 1, 1, false, 1, DType::f64);
  strided.weight = make_parameter(weight);
  // Stride 2: the copies do not overlap; output_padding 1 appends a zero.
  check_values(strided(x), {1, 10, 2, 20, 0});
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d of the same geometry",
          "[nn][conv_transpose]") {
  manual_seed(41);
  nn::Conv2d conv(4, 6, {2, 3}, {2, 1}, {1, 2}, {1, 2}, 2, false, DType::f64);
  const Tensor x = randn({2, 4, 5, 7}, DType::f64);
  const Tensor y = conv(x);
  const Tensor g = randn(y.shape(), DType::f64);
  // <conv(x), g> = <x, conv^T(g)> with the same weight: [out, in / groups, ...]
  // is the transpose's [in, out / groups, ...]; output_padding restores H = 5.
  const Tensor back =
      nn::conv_transpose2d(g, conv.weight->value(), {}, {2, 1}, {1, 2}, {1, 0}, 2, {1, 2});
  REQUIRE(back.shape() == x.shape());
  CHECK(sum(y * g).item<double>() == Approx(sum(x * back).item<double>()).epsilon(1e-12));
}

TEST_CASE("ConvTranspose2d has torch's weight layout, initialisation and state_dict keys",
          "[nn][conv_transpose]") {
  manual_seed(42);
  nn::ConvTranspose2d layer(4, 6, {2, 3}, 2, 0, 1, 2);
  CHECK(layer.weight->value().shape() == Shape{4, 3, 2, 3});
  CHECK(layer.bias->value().shape() == Shape{6});
  CHECK(layer.state_dict().size() == 2);
  // fan_in = out / groups * kh * kw = 18.
  const double bound = 1 / std::sqrt(18.0);
  CHECK(amax(abs(layer.weight->value())).item<double>() <= bound);
  CHECK(amax(abs(layer.bias->value())).item<double>() <= bound);
  CHECK(layer(randn({2, 4, 3, 5})).shape() == Shape{2, 6, 7, 12});
  nn::ConvTranspose1d line(2, 4, 3, 1, 0, 0, 1, false);
  CHECK(line.weight->value().shape() == Shape{2, 4, 3});
  CHECK(line.bias == nullptr);
  CHECK(line(randn({1, 2, 5})).shape() == Shape{1, 4, 7});
}

TEST_CASE("ConvTranspose2d passes gradcheck and gradgradcheck in f64", "[nn][conv_transpose]") {
  manual_seed(43);
  nn::ConvTranspose2d layer(2, 4, {2, 3}, {2, 1}, {1, 2}, {1, 0}, 2, true, {1, 2}, DType::f64);
  const Tensor x = randn({2, 2, 3, 4}, DType::f64).requires_grad_();
  const auto f = [&](const std::vector<Tensor>& in) { return layer(in[0]); };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
}

TEST_CASE("forward(x, output_size) picks the output_padding that gives that size, as torch's",
          "[nn][conv_transpose]") {
  manual_seed(5);
  nn::ConvTranspose2d layer(2, 3, 3, 2, 1, 0, 1, true, 1, DType::f64);
  const Tensor x = randn({1, 2, 4, 4}, DType::f64);
  const Tensor w = layer.weight->value(), b = layer.bias->value();
  CHECK(layer(x).shape() == Shape{1, 3, 7, 7});
  CHECK(layer.forward(x, {8, 8}).shape() == Shape{1, 3, 8, 8});
  // N and the channels may lead, as in y.shape() of the convolution it undoes.
  const Tensor y = layer.forward(x, {1, 3, 7, 8});
  CHECK(testing::max_abs_diff(y, nn::conv_transpose2d(x, w, b, 2, 1, {0, 1})) == 0);
  CHECK_THROWS_WITH(layer.forward(x, {9, 9}),
                    "ConvTranspose2d: requested an output size of [9, 9], but valid sizes range "
                    "from [7, 7] to [8, 8] (for an input of [4, 4])");
  CHECK_THROWS_WITH(layer.forward(x, {8, 8, 8}),
                    "ConvTranspose2d: for 4-d input, output_size must have 2 or 4 elements (got "
                    "3)");
  // The layer's own output_padding gives way to the requested size.
  nn::ConvTranspose1d line(2, 3, 3, 3, 0, 2);
  const Tensor sequence = randn({1, 2, 4});
  CHECK(line(sequence).shape() == Shape{1, 3, 14});
  CHECK(line.forward(sequence, {12}).shape() == Shape{1, 3, 12});
  CHECK_THROWS_WITH(line.forward(sequence, {15}),
                    "ConvTranspose1d: requested an output size of [15], but valid sizes range "
                    "from [12] to [14] (for an input of [4])");
}

TEST_CASE("ConvTranspose1d, ConvTranspose2d and conv_transpose2d errors name the layer",
          "[nn][conv_transpose]") {
  CHECK_THROWS_WITH(nn::ConvTranspose2d(4, 6, 2, 1, 0, 0, 4),
                    Contains("ConvTranspose2d: expected groups dividing in_channels 4 and "
                             "out_channels 6, got 4"));
  CHECK_THROWS_WITH(nn::ConvTranspose2d(2, 2, 2, 2, 0, 2),
                    Contains("ConvTranspose2d: expected output_padding below stride or dilation"));
  CHECK_THROWS_AS(nn::ConvTranspose1d(2, 2, 2, 0), ValueError);
  nn::ConvTranspose2d layer(2, 2, 3, 1, 2);
  CHECK_THROWS_WITH(layer(zeros({1, 3, 4, 4})),
                    Contains("ConvTranspose2d: expected input [N, 2, H, W], got [1, 3, 4, 4]"));
  CHECK_THROWS_WITH(layer(zeros({1, 2, 1, 1})),
                    Contains("ConvTranspose2d: expected a non-empty output"));
  nn::ConvTranspose1d line(2, 2, 3);
  CHECK_THROWS_WITH(line(zeros({1, 2, 3, 3})),
                    Contains("ConvTranspose1d: expected input [N, 2, L]"));
  CHECK_THROWS_WITH(nn::conv_transpose2d(zeros({1, 2, 3, 3}), zeros({3, 2, 2, 2})),
                    Contains("conv_transpose2d: expected input [N, in, H, W] and weight"));
  CHECK_THROWS_WITH(nn::conv_transpose2d(zeros({1, 2, 3, 3}), zeros({2, 2, 2, 2}), zeros({3})),
                    Contains("conv_transpose2d: expected bias [2], got [3]"));
}

}  // namespace
}  // namespace tether
