// nn::Conv1d, nn::Conv2d, nn::MaxPool2d, nn::AvgPool2d and nn::BatchNorm2d:
// values worked out by hand and by a direct loop convolution, gradients by
// gradcheck, running statistics, errors, and spectral norm on a conv weight.
#include <tether/gradcheck.h>
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "nn_check.h"

using namespace tether;

namespace {

/// 1, 2, ..., n as an f64 tensor of `shape`.
Tensor counting(const Shape& shape) {
  return arange(1, static_cast<double>(shape.numel()) + 1, 1, DType::f64).reshape(shape);
}

/// Sets conv's weight and (when given) bias to these values.
void set_weights(nn::ConvNd& conv, const Tensor& weight, const Tensor& bias = {}) {
  conv.weight = make_parameter(weight);
  conv.bias = bias.defined() ? make_parameter(bias) : nullptr;
}

struct ConvCase {
  std::int64_t batch, in, out, height, width;
  nn::Size2d kernel, stride, padding, dilation;
  std::int64_t groups;
};

/// The convolution by its definition, one output element at a time.
std::vector<double> direct_conv2d(const ConvCase& c, const Tensor& x, const Tensor& weight,
                                  const Tensor& bias, std::int64_t out_height,
                                  std::int64_t out_width) {
  const auto input = x.to_vector<double>(), w = weight.to_vector<double>();
  const auto b = bias.to_vector<double>();
  const std::int64_t in_per_group = c.in / c.groups, out_per_group = c.out / c.groups;
  std::vector<double> y;
  for (std::int64_t n = 0; n < c.batch; ++n)
    for (std::int64_t o = 0; o < c.out; ++o)
      for (std::int64_t r = 0; r < out_height; ++r)
        for (std::int64_t s = 0; s < out_width; ++s) {
          double total = b[o];
          for (std::int64_t k = 0; k < in_per_group; ++k)
            for (std::int64_t i = 0; i < c.kernel.height; ++i)
              for (std::int64_t j = 0; j < c.kernel.width; ++j) {
                const std::int64_t row =
                    r * c.stride.height - c.padding.height + i * c.dilation.height;
                const std::int64_t col =
                    s * c.stride.width - c.padding.width + j * c.dilation.width;
                if (row < 0 || row >= c.height || col < 0 || col >= c.width) continue;
                const std::int64_t channel = o / out_per_group * in_per_group + k;
                total += input[((n * c.in + channel) * c.height + row) * c.width + col] *
                         w[((o * in_per_group + k) * c.kernel.height + i) * c.kernel.width + j];
              }
          y.push_back(total);
        }
  return y;
}

}  // namespace

TEST_CASE("Conv2d of a 3x3 input by a 2x2 kernel sums each window times the kernel", "[nn][conv]") {
  nn::Conv2d conv(1, 1, 2, 1, 0, 1, 1, false, DType::f64);
  set_weights(conv, counting({1, 1, 2, 2}));
  // Window (0, 0) holds 1, 2, 4, 5: 1*1 + 2*2 + 4*3 + 5*4 = 37.
  const Tensor y = conv(counting({1, 1, 3, 3}));
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  check_values(y, {37, 47, 67, 77});
}

TEST_CASE("Conv2d with stride 2 skips every other window", "[nn][conv]") {
  nn::Conv2d conv(1, 1, 2, 2, 0, 1, 1, false, DType::f64);
  set_weights(conv, counting({1, 1, 2, 2}));
  // Windows of 1..16 as 4x4: {1, 2, 5, 6}, {3, 4, 7, 8}, {9, 10, 13, 14}, {11, 12, 15, 16}.
  check_values(conv(counting({1, 1, 4, 4})), {44, 64, 124, 144});
}

TEST_CASE("Conv2d with padding 1 reads zeros around the input", "[nn][conv]") {
  nn::Conv2d conv(1, 1, 2, 1, 1, 1, 1, false, DType::f64);
  set_weights(conv, ones({1, 1, 2, 2}, DType::f64));
  // Window sums of 1..9 as 3x3 framed by zeros.
  check_values(conv(counting({1, 1, 3, 3})),
               {1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9});
}

TEST_CASE("Conv2d with dilation 2 spaces the kernel's taps two apart", "[nn][conv]") {
  nn::Conv2d conv(1, 1, 2, 1, 0, 2, 1, false, DType::f64);
  set_weights(conv, counting({1, 1, 2, 2}));
  // The taps fall on the corners 1, 3, 7, 9: 1*1 + 3*2 + 7*3 + 9*4 = 64.
  check_values(conv(counting({1, 1, 3, 3})), {64});
}

TEST_CASE("Conv2d with 2 groups convolves each channel by its own filter", "[nn][conv]") {
  nn::Conv2d conv(2, 2, 2, 1, 0, 1, 2, true, DType::f64);
  set_weights(conv, tensor({1, 1, 1, 1, 1, 0, 0, -1}, {2, 1, 2, 2}, DType::f64),
              tensor({0.5, -0.5}, {2}, DType::f64));
  // Channel 0 (1..4) sums to 10; channel 1 (5..8) gives 5 - 8.
  check_values(conv(counting({1, 2, 2, 2})), {10.5, -3.5});
}

TEST_CASE("Conv2d and Conv1d match a direct loop convolution for random sizes", "[nn][conv]") {
  manual_seed(11);
  const std::vector<ConvCase> cases = {{2, 3, 4, 5, 6, {2, 3}, 1, 0, 1, 1},
                                       {1, 4, 6, 7, 5, 3, {2, 1}, {1, 2}, 1, 2},
                                       {3, 2, 2, 6, 6, 2, 1, 1, {2, 1}, 2},
                                       {1, 6, 3, 4, 9, {1, 3}, 2, 0, {1, 2}, 3},
                                       {2, 1, 2, 1, 8, {1, 3}, {1, 2}, {0, 1}, {1, 2}, 1}};
  for (const ConvCase& c : cases) {
    nn::Conv2d conv(c.in, c.out, c.kernel, c.stride, c.padding, c.dilation, c.groups, true,
                    DType::f64);
    const Tensor x = randn({c.batch, c.in, c.height, c.width}, DType::f64);
    const Tensor y = conv(x);
    const auto expected =
        direct_conv2d(c, x, conv.weight->value(), conv.bias->value(), y.size(2), y.size(3));
    CHECK(y.shape() == Shape{c.batch, c.out, y.size(2), y.size(3)});
    CHECK(amax(abs(y - tensor(expected, y.shape(), DType::f64))).item<double>() < 1e-12);
  }
  // The last case has height 1 and so is a 1-d convolution.
  const ConvCase& c = cases.back();
  nn::Conv1d conv(c.in, c.out, c.kernel.width, c.stride.width, c.padding.width, c.dilation.width,
                  c.groups, true, DType::f64);
  const Tensor x = randn({c.batch, c.in, c.width}, DType::f64);
  const Tensor y = conv(x);
  CHECK(y.shape() == Shape{c.batch, c.out, 3});  // (8 + 2 - 5) / 2 + 1
  const auto expected =
      direct_conv2d(c, x, conv.weight->value().unsqueeze(2), conv.bias->value(), 1, y.size(2));
  CHECK(amax(abs(y - tensor(expected, y.shape(), DType::f64))).item<double>() < 1e-12);
}

TEST_CASE("Conv2d and Conv1d pass gradcheck in f64 for input, weight and bias", "[nn][conv]") {
  manual_seed(12);
  nn::Conv2d conv2d(4, 2, {2, 3}, {2, 1}, 1, {1, 2}, 2, true, DType::f64);
  nn::Conv1d conv1d(2, 4, 3, 2, 1, 1, 2, true, DType::f64);
  const auto check = [](nn::ConvNd& conv, const Tensor& x) {
    const Tensor weight = conv.weight->value().detach().requires_grad_();
    const Tensor bias = conv.bias->value().detach().requires_grad_();
    return gradcheck(
        [&](const std::vector<Tensor>& in) {
          set_weights(conv, in[1], in[2]);
          return conv(in[0]);
        },
        {x, weight, bias});
  };
  CHECK(check(conv2d, randn({2, 4, 4, 5}, DType::f64).requires_grad_()));
  CHECK(check(conv1d, randn({2, 2, 7}, DType::f64).requires_grad_()));
}

TEST_CASE("Conv2d draws weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))", "[nn][conv]") {
  manual_seed(13);
  nn::Conv2d conv(4, 8, 3, 1, 0, 1, 2);
  // fan_in = in / groups * kh * kw = 18.
  const double bound = 1 / std::sqrt(18.0);
  CHECK(conv.weight->value().shape() == Shape{8, 2, 3, 3});
  CHECK(amax(abs(conv.weight->value())).item<double>() <= bound);
  CHECK(amax(abs(conv.weight->value())).item<double>() > 0.8 * bound);
  CHECK(amax(abs(conv.bias->value())).item<double>() <= bound);
  const auto keys = conv.state_dict();
  CHECK(keys.size() == 2);
  CHECK(keys.count("weight") == 1);
  CHECK(keys.count("bias") == 1);
}

TEST_CASE("Conv layers name the shape they expected and the one they got", "[nn][conv]") {
  nn::Conv2d conv(3, 2, 3);
  CHECK_THROWS_WITH(conv(zeros({1, 3, 4})), "Conv2d: expected input [N, 3, H, W], got [1, 3, 4]");
  CHECK_THROWS_AS(conv(zeros({1, 2, 4, 4})), ShapeError);
  CHECK_THROWS_AS(conv(zeros({1, 3, 2, 4})), ShapeError);
  CHECK_THROWS_WITH(conv(zeros({1, 3, 2, 4})),
                    Catch::StartsWith("Conv2d: expected an input of at least the dilated kernel "
                                      "(3, 3)") &&
                        Catch::Contains("got [1, 3, 2, 4]"));
  nn::Conv1d conv1d(2, 2, 3);
  CHECK_THROWS_WITH(conv1d(zeros({1, 3, 5})), "Conv1d: expected input [N, 2, L], got [1, 3, 5]");
  CHECK_THROWS_WITH(conv1d(zeros({1, 2, 2})),
                    "Conv1d: expected an input of at least the dilated kernel (3) after padding "
                    "(0), got [1, 2, 2]");
  CHECK_THROWS_AS(nn::Conv2d(4, 6, 3, 1, 0, 1, 4), ValueError);
  CHECK_THROWS_WITH(nn::Conv2d(4, 6, 3, 1, 0, 1, 4),
                    "Conv2d: expected groups dividing in_channels 4 and out_channels 6, got 4");
  CHECK_THROWS_AS(nn::Conv2d(1, 1, 0), ValueError);
  CHECK_THROWS_AS(nn::Conv1d(1, 1, 3, 0), ValueError);
}

TEST_CASE("spectral norm on a Conv2d weight bounds the weight as an [out, in*kh*kw] matrix",
          "[nn][conv][spectral_norm]") {
  manual_seed(14);
  nn::Conv2d conv(3, 4, 3, 1, 1, 1, 1, true, DType::f64);
  conv.weight = spectrally_normalize(conv.weight, 0, 1);
  optim::SGD sgd(conv.parameters(), {.lr = 0.01});
  const Tensor x = randn({2, 3, 5, 5}, DType::f64);
  for (int step = 0; step < 3; ++step) {
    sgd.zero_grad();
    sum(conv(x) * conv(x)).backward();
    sgd.step();
  }
  const Tensor weight = conv.weight->value();
  CHECK(weight.shape() == Shape{4, 3, 3, 3});
  CHECK(largest_singular_value(weight.reshape({4, 27})) == Approx(1.0).margin(1e-3));
  CHECK(conv.state_dict().count("weight.raw") == 1);
}

TEST_CASE("MaxPool2d takes each window's maximum and pads with -inf", "[nn][pool]") {
  // Windows of 1..16 as 4x4 with kernel 2: maxima 6, 8, 14, 16.
  check_values(nn::MaxPool2d(2)(counting({1, 1, 4, 4})), {6, 8, 14, 16});
  // -1..-9 as 3x3, padding 1: the windows hold {-1}, {-2, -3}, {-4, -7}, {-5, -6, -8, -9}.
  const Tensor y = nn::MaxPool2d(2, 2, 1)(-counting({1, 1, 3, 3}));
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  check_values(y, {-1, -2, -4, -5});
  // Stride 1 overlaps the windows: rows 0-1 and 1-2 of 1..9 as 3x3.
  check_values(nn::MaxPool2d({2, 3}, 1)(counting({1, 1, 3, 3})), {6, 9});
}

TEST_CASE("AvgPool2d takes each window's mean, with or without the padding", "[nn][pool]") {
  // 1..9 as 3x3, padding 1: the windows hold {1}, {2, 3}, {4, 7}, {5, 6, 8, 9}.
  check_values(nn::AvgPool2d(2, 2, 1)(counting({1, 1, 3, 3})), {0.25, 1.25, 2.75, 7});
  check_values(nn::AvgPool2d(2, 2, 1, false)(counting({1, 1, 3, 3})), {1, 2.5, 5.5, 7});
  check_values(nn::AvgPool2d(2)(counting({2, 1, 2, 2})), {2.5, 6.5});
}

TEST_CASE("pooling strides take a braced pair, and none means the kernel's size", "[nn][pool]") {
  // 1..16 as 4x4, kernel 2, stride (2, 1): rows 0-1 and 2-3, columns 0-1, 1-2, 2-3.
  const Tensor y = nn::MaxPool2d(2, {2, 1})(counting({1, 1, 4, 4}));
  CHECK(y.shape() == Shape{1, 1, 2, 3});
  check_values(y, {6, 7, 8, 14, 15, 16});
  check_values(nn::AvgPool2d(2, {1, 2})(counting({1, 1, 3, 4})), {3.5, 5.5, 7.5, 9.5});
  // torch.nn.MaxPool2d(2, None, 1): stride 2, padding 1, windows as in the test above.
  check_values(nn::MaxPool2d(2, std::nullopt, 1)(-counting({1, 1, 3, 3})), {-1, -2, -4, -5});
}

TEST_CASE("a pooling layer serves inputs of other channel counts and sizes in turn", "[nn][pool]") {
  // The gather's cached index depends on (C, H, W): each call must match its own input.
  nn::AvgPool2d pool(2, 2, 1, false);
  check_values(pool(counting({1, 1, 3, 3})), {1, 2.5, 5.5, 7});
  check_values(pool(counting({1, 2, 2, 2})), {1, 2, 3, 4, 5, 6, 7, 8});
  check_values(pool(counting({2, 1, 3, 3})), {1, 2.5, 5.5, 7, 10, 11.5, 14.5, 16});
}

TEST_CASE("MaxPool2d and AvgPool2d pass gradcheck in f64", "[nn][pool]") {
  manual_seed(15);
  // Random normal values: ties within a window have probability zero.
  const Tensor x = randn({2, 3, 5, 4}, DType::f64).requires_grad_();
  nn::MaxPool2d max_pool({3, 2}, {2, 1}, 1);
  nn::AvgPool2d avg_pool(3, 2, 1, false);
  CHECK(gradcheck([&](const std::vector<Tensor>& in) { return max_pool(in[0]); }, {x}));
  CHECK(gradcheck([&](const std::vector<Tensor>& in) { return avg_pool(in[0]); }, {x}));
}

TEST_CASE("pooling layers reject a padding above half the kernel and a small input", "[nn][pool]") {
  CHECK_THROWS_WITH(nn::MaxPool2d(2, 2, 2),
                    "MaxPool2d: expected padding at most half the kernel (2, 2), got (2, 2)");
  CHECK_THROWS_AS(nn::AvgPool2d(3, 0), ValueError);
  CHECK_THROWS_WITH(nn::AvgPool2d(3)(zeros({1, 1, 2, 5})),
                    Catch::StartsWith("AvgPool2d: expected an input of at least"));
  CHECK_THROWS_WITH(nn::MaxPool2d(2)(zeros({4, 4})),
                    "MaxPool2d: expected input [N, C, H, W], got [4, 4]");
}

TEST_CASE("BatchNorm2d tracks running statistics over N, H and W and uses them in eval",
          "[nn][batch_norm]") {
  nn::BatchNorm2d norm(2, 1e-5, 0.1, true, DType::f64);
  // x [2, 2, 1, 2]: channel 0 holds 1, 3, 1, 3 and channel 1 holds 2, 6, 2, 6.
  // Means 2 and 4, biased variances 1 and 4, unbiased 4/3 and 16/3.
  const double scale = 1 / std::sqrt(1 + 1e-5);
  check_values(norm(tensor({1, 3, 2, 6, 1, 3, 2, 6}, {2, 2, 1, 2}, DType::f64)),
               {-scale, scale, -scale, scale, -scale, scale, -scale, scale});
  const double var0 = 0.9 + 0.1 * 4 / 3, var1 = 0.9 + 0.1 * 16 / 3;
  check_values(norm.running_mean, {0.2, 0.4});
  check_values(norm.running_var, {var0, var1});
  // Batch 2: channel 0 all 0, channel 1 holds 0, 2, 0, 2 (mean 1, unbiased variance 4/3).
  norm(tensor({0, 0, 0, 2, 0, 0, 0, 2}, {2, 2, 1, 2}, DType::f64));
  check_values(norm.running_mean, {0.18, 0.46});
  check_values(norm.running_var, {0.9 * var0, 0.9 * var1 + 0.1 * 4 / 3});
  CHECK(norm.num_batches_tracked.item<std::int64_t>() == 2);

  norm.eval();
  check_values(
      norm(ones({1, 2, 1, 1}, DType::f64)),
      {0.82 / std::sqrt(0.9 * var0 + 1e-5), 0.54 / std::sqrt(0.9 * var1 + 0.1 * 4 / 3 + 1e-5)});
  CHECK(norm.num_batches_tracked.item<std::int64_t>() == 2);
  const auto state = norm.state_dict();
  for (const char* key : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})
    CHECK(state.count(key) == 1);
  CHECK(state.size() == 5);
  CHECK_THROWS_WITH(norm(zeros({2, 2, 3})),
                    "BatchNorm2d: expected input [N, 2, H, W], got [2, 2, 3]");
}
