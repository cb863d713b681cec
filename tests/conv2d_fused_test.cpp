// The fused conv2d node (autograd/src/ops/conv.cpp, backends/cpu/conv.cpp)
// against the composition it replaced (im2col, one product per group, a
// permute and the bias), in values and gradients, across the kernel's chunks
// of images (batches that do not divide into them, batch 1, groups, 1 and 2
// threads); its errors; max_pool2d's gradient on ties and NaNs as PyTorch's;
// and both in a captured step.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tether/tether.h"
#include "threads_guard.h"

using namespace tether;
using testing::ThreadsGuard;

namespace {

using Pair = std::array<std::int64_t, 2>;

struct Conv {
  Pair stride = {1, 1}, padding = {0, 0}, dilation = {1, 1};
  std::int64_t groups = 1;
};

/// The convolution as im2col, one product per group over the whole batch,
/// then the permute to [N, O, H_out, W_out] and the bias: recorded ops only.
Tensor composed_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv& c) {
  const std::int64_t outputs = weight.size(0), batch = x.size(0);
  const Tensor columns =
      im2col(x, {{weight.size(2), weight.size(3)}, c.stride, c.padding, c.dilation});
  const Tensor y = matmul(weight.reshape({c.groups, outputs / c.groups, -1}),
                          columns.reshape({c.groups, -1, columns.size(1)}));
  const std::int64_t positions = columns.size(1) / batch;
  const Tensor images = y.reshape({outputs, batch, positions}).permute({1, 0, 2});
  const Tensor out = bias.defined() ? images + bias.reshape({outputs, 1}) : images;
  const std::int64_t height =
      (x.size(2) + 2 * c.padding[0] - c.dilation[0] * (weight.size(2) - 1) - 1) / c.stride[0] + 1;
  return out.reshape({batch, outputs, height, -1});
}

/// The output and the gradients of x, weight and bias for a fixed random
/// cotangent, of `conv` (the fused or the composed one).
template <class F>
std::vector<Tensor> value_and_grads(F conv, const Tensor& x, const Tensor& weight,
                                    const Tensor& bias) {
  const Tensor y = conv(x, weight, bias);
  manual_seed(7);
  const Tensor cotangent = randn(y.shape(), y.options());
  std::vector<Tensor> result = autograd::grad({sum(y * cotangent)}, {x, weight, bias});
  result.insert(result.begin(), y.detach());
  return result;
}

/// The fused and the composed convolution agree in value and gradients to `tolerance`.
void require_matches_composed(const Shape& input, const Shape& kernel, const Conv& c, DType dtype,
                              double tolerance) {
  manual_seed(3);
  const TensorOptions options = TensorOptions(dtype).with_requires_grad(true);
  const Tensor x = randn(input, options), weight = randn(kernel, options);
  const Tensor bias = randn({kernel[0]}, options);
  const auto fused = value_and_grads(
      [&](const Tensor& a, const Tensor& w, const Tensor& b) {
        return conv2d(a, w, b, c.stride, c.padding, c.dilation, c.groups);
      },
      x, weight, bias);
  const auto composed =
      value_and_grads([&](const Tensor& a, const Tensor& w,
                          const Tensor& b) { return composed_conv2d(a, w, b, c); },
                      x, weight, bias);
  const char* names[] = {"output", "grad x", "grad weight", "grad bias"};
  for (int i = 0; i < 4; ++i) {
    INFO(names[i]);
    REQUIRE(fused[i].shape() == composed[i].shape());
    REQUIRE(allclose(fused[i], composed[i], tolerance, tolerance));
  }
}

/// Requires f() to throw an E whose message names `op`.
template <class E, class F>
void require_throws_naming(F f, const std::string& op = "conv2d") {
  REQUIRE_THROWS_AS(f(), E);
  REQUIRE_THROWS_WITH(f(), Catch::Contains(op));
}

}  // namespace

TEST_CASE(
    "conv2d's fused node equals the composed im2col product in f64 to 1e-12, values and gradients, "
    "for batches that do not divide into its chunks, batch 1 and groups",
    "[conv][conv2d]") {
  const ThreadsGuard guard;
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    INFO(threads << " threads");
    // The digits CNN's middle layer: chunks of one image (f64) or three (f32).
    for (const std::int64_t batch : {1, 2, 7, 13})
      require_matches_composed({batch, 32, 8, 8}, {32, 32, 3, 3}, {.padding = {1, 1}}, DType::f64,
                               1e-12);
    require_matches_composed({7, 6, 9, 7}, {4, 3, 3, 2},
                             {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2},
                             DType::f64, 1e-12);
    require_matches_composed({65, 1, 8, 8}, {8, 1, 3, 3}, {.padding = {1, 1}}, DType::f64, 1e-12);
  }
}

TEST_CASE("conv2d's fused node in f32 equals the composed product to f32 rounding",
          "[conv][conv2d]") {
  for (const std::int64_t batch : {1, 7, 64})
    require_matches_composed({batch, 32, 8, 8}, {32, 32, 3, 3}, {.padding = {1, 1}}, DType::f32,
                             2e-4);
  require_matches_composed({5, 4, 6, 6}, {6, 2, 2, 2}, {.stride = {2, 2}, .groups = 2}, DType::f32,
                           2e-4);
}

TEST_CASE("conv2d of an empty batch gives an empty output and zero weight and bias gradients",
          "[conv][conv2d]") {
  const TensorOptions options = TensorOptions(DType::f64).with_requires_grad(true);
  const Tensor x = zeros({0, 2, 4, 4}, options), weight = ones({3, 2, 2, 2}, options);
  const Tensor bias = ones({3}, options);
  const Tensor y = conv2d(x, weight, bias);
  REQUIRE(y.shape() == Shape{0, 3, 3, 3});
  const auto grads = autograd::grad({sum(y)}, {weight, bias});
  REQUIRE(allclose(grads[0], zeros({3, 2, 2, 2}, DType::f64)));
  REQUIRE(allclose(grads[1], zeros({3}, DType::f64)));
}

TEST_CASE("conv2d refuses bad arguments with errors naming conv2d", "[conv][conv2d]") {
  const Tensor x = ones({2, 4, 5, 5}, DType::f64), weight = ones({6, 2, 3, 3}, DType::f64);
  const Tensor full = ones({6, 4, 3, 3}, DType::f64);
  require_throws_naming<ValueError>([&] { conv2d(x, weight, {}, {1, 1}, {0, 0}, {1, 1}, 0); });
  require_throws_naming<ValueError>([&] { conv2d(x, weight, {}, {0, 1}, {0, 0}, {1, 1}, 2); });
  require_throws_naming<ShapeError>([&] { conv2d(x, weight); });  // 4 channels, weight wants 2
  require_throws_naming<ShapeError>([&] { conv2d(x, full, ones({5}, DType::f64)); });
  require_throws_naming<ShapeError>([&] { conv2d(x, ones({6, 4, 7, 7}, DType::f64)); });
  require_throws_naming<DTypeError>([&] { conv2d(x, ones({6, 4, 3, 3}, DType::f32)); });
  require_throws_naming<DTypeError>([&] {
    conv2d(ones({2, 4, 5, 5}, DType::i64), ones({6, 4, 3, 3}, DType::i64));
  });
}

TEST_CASE(
    "max_pool2d's gradient goes to the first largest element of each window, and to a NaN, as "
    "PyTorch's",
    "[conv][pool]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = tensor({1, 1, 3, 3, nan, 2, 2, nan}, {1, 2, 2, 2},
                          TensorOptions(DType::f64).with_requires_grad(true));
  const Tensor y = max_pool2d(x, {{2, 2}, {2, 2}});
  const auto values = y.detach().to_vector<double>();
  REQUIRE(values[0] == 3);
  REQUIRE(std::isnan(values[1]));
  // torch: the first 3 wins the tie; the last NaN is the one kept.
  const Tensor g = autograd::grad({sum(y)}, {x})[0];
  REQUIRE(g.to_vector<double>() == std::vector<double>{0, 0, 1, 0, 0, 0, 0, 1});
}

TEST_CASE("MaxPool2d's errors still name the layer", "[conv][pool]") {
  nn::MaxPool2d pool(3);
  require_throws_naming<ShapeError>([&] { pool(ones({1, 1, 2, 2})); }, "MaxPool2d");
  require_throws_naming<ValueError>(
      [&] {
        max_pool2d(ones({1, 1, 4, 4}), {{2, 2}, {1, 1}, {2, 2}});
      },
      "max_pool2d");
}

TEST_CASE("replays of a captured step through conv2d and max_pool2d equal eager steps",
          "[conv][capture]") {
  struct Setup {
    Setup() {
      manual_seed(5);
      model = std::make_shared<nn::Sequential>(nn::Sequential::Layers{
          std::make_shared<nn::Conv2d>(2, 4, 3, 1, 1, 1, 1, true, TensorOptions{DType::f64}),
          std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>()});
      optimizer = std::make_unique<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.1});
      x = randn({3, 2, 6, 6}, DType::f64);
    }
    Tensor step() {
      optimizer->zero_grad();
      const Tensor loss = sum((*model)(x) * (*model)(x));
      loss.backward();
      optimizer->step();
      return loss.detach();
    }
    std::shared_ptr<nn::Sequential> model;
    std::unique_ptr<optim::SGD> optimizer;
    Tensor x;
  };
  Setup eager, captured;
  std::vector<double> eager_losses;
  for (int i = 0; i < 5; ++i) eager_losses.push_back(eager.step().item<double>());
  const CapturedStep step = capture([&] { return captured.step(); });
  for (int i = 1; i < 5; ++i) REQUIRE(step().item<double>() == eager_losses[i]);
}

TEST_CASE(
    "batch_norm's fused node equals the composed formula in f64 to 1e-12, values, statistics and "
    "gradients",
    "[batch_norm]") {
  manual_seed(4);
  const TensorOptions options = TensorOptions(DType::f64).with_requires_grad(true);
  const Tensor x = randn({5, 3, 4, 2}, options) * 3 + 1;
  const Tensor weight = randn({3}, options), bias = randn({3}, options);
  const Dims over{0, 2, 3};
  const auto composed = [&](const Tensor& a, const Tensor& w, const Tensor& b) {
    const Tensor centred = a - mean(a, over, true);
    return centred * rsqrt(var(a, over, 0, true) + 1e-5) * w.reshape({1, 3, 1, 1}) +
           b.reshape({1, 3, 1, 1});
  };
  const std::vector<Tensor> fused = batch_norm(x, weight, bias);
  REQUIRE(allclose(fused[1], mean(x, over).detach(), 1e-12, 1e-12));
  REQUIRE(allclose(fused[2], var(x, over, 0).detach(), 1e-12, 1e-12));
  const auto with_grads = [&](const Tensor& y) {
    manual_seed(7);
    const Tensor cotangent = randn(y.shape(), DType::f64);
    std::vector<Tensor> result = autograd::grad({sum(y * cotangent)}, {x, weight, bias});
    result.insert(result.begin(), y.detach());
    return result;
  };
  const auto a = with_grads(fused[0]), b = with_grads(composed(x, weight, bias));
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("output " << i);
    REQUIRE(allclose(a[i], b[i], 1e-12, 1e-12));
  }
}

TEST_CASE("batch_norm refuses bad arguments with errors naming batch_norm", "[batch_norm]") {
  const Tensor x = ones({2, 3, 4}, DType::f64);
  require_throws_naming<ShapeError>([&] { batch_norm(ones({3}, DType::f64), {}, {}); },
                                    "batch_norm");
  require_throws_naming<ShapeError>([&] { batch_norm(x, ones({2}, DType::f64), {}); },
                                    "batch_norm");
  require_throws_naming<DTypeError>([&] { batch_norm(x, ones({3}, DType::f32), {}); },
                                    "batch_norm");
  require_throws_naming<ValueError>(
      [&] {
        batch_norm(ones({1, 3}, DType::f64), {}, {});
      },
      "batch_norm");
}

TEST_CASE("the convolution and pooling ops refuse windows whose sizes overflow, naming the op",
          "[conv]") {
  const Tensor x = ones({1, 1, 4, 4}), w = ones({1, 1, 3, 3});
  const std::int64_t huge = std::int64_t{1} << 62;
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(conv2d(x, w, {}, {1, 1}, {huge, huge}), Contains("conv2d"));
  CHECK_THROWS_WITH(conv2d(x, w, {}, {1, 1}, {0, 0}, {huge, huge}), Contains("conv2d"));
  CHECK_THROWS_WITH(max_pool2d(x, {.kernel = {huge, 2}}), Contains("max_pool2d"));
  CHECK_THROWS_WITH(im2col(x, {.kernel = {2, 2}, .padding = {huge, 0}}), Contains("im2col"));
  CHECK_THROWS_WITH(col2im(ones({4, 1}), {1, 1, huge, 2}, {.kernel = {2, 2}}), Contains("col2im"));
}

TEST_CASE("layers refuse windows and output sizes beyond a 64-bit size, naming the layer",
          "[conv]") {
  const Tensor x = ones({1, 1, 4, 4});
  const std::int64_t huge = std::int64_t{1} << 62;
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(nn::Conv2d(1, 1, 3, 1, huge), Contains("Conv2d") && Contains("padding"));
  CHECK_THROWS_WITH(nn::Conv2d(1, 1, 3, 1, 0, huge), Contains("Conv2d") && Contains("dilated"));
  CHECK_THROWS_WITH(nn::ConvTranspose2d(1, 1, 3, huge).forward(x),
                    Contains("ConvTranspose2d") && Contains("64-bit"));
  CHECK_THROWS_WITH(nn::MaxPool2d(huge).forward(x), Contains("MaxPool2d"));
  CHECK_THROWS_WITH(nn::interpolate(x, {.size = nn::Size2d(huge, huge)}), Contains("interpolate"));
  CHECK_THROWS_WITH(nn::interpolate(x, {.scale_factor = 1e30}),
                    Contains("interpolate") && Contains("64-bit"));
  CHECK_THROWS_WITH(nn::adaptive_avg_pool2d(ones({0, 1, 4, 4}), huge),
                    Contains("adaptive_avg_pool2d"));
}
