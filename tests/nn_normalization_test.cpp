// nn::LayerNorm, nn::BatchNorm1d and nn::Embedding: values worked out by hand,
// running statistics after two batches, gradients by gradcheck, errors.
#include <tether/gradcheck.h>
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>

#include "nn_check.h"

using namespace tether;

namespace {

/// gradcheck of `norm` for its input x and its weight and bias slots, which
/// the checked function fills with gradcheck's perturbed copies.
template <class Norm>
bool gradcheck_affine(Norm& norm, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return gradcheck(
      [&](const std::vector<Tensor>& in) {
        norm.weight = make_parameter(in[1]);
        norm.bias = make_parameter(in[2]);
        return norm(in[0]);
      },
      {x, weight, bias});
}

}  // namespace

TEST_CASE("LayerNorm normalises the last dims by their biased variance", "[nn][layer_norm]") {
  // [1, 2, 3]: mean 2, biased variance 2/3.
  nn::LayerNorm norm({3}, 1e-5, true, DType::f64);
  const double scale = 1 / std::sqrt(2.0 / 3 + 1e-5);
  check_values(norm(tensor({1, 2, 3, 6, 6, 6}, {2, 3}, DType::f64)), {-scale, 0, scale, 0, 0, 0});
  nn::LayerNorm over_two({2, 2}, 0.0, false, DType::f64);
  check_values(over_two(tensor({0, 2, 0, 2}, {1, 2, 2}, DType::f64)), {-1, 1, -1, 1});
  CHECK_FALSE(over_two.weight);
}

TEST_CASE("LayerNorm passes gradcheck in f64 for its input, weight and bias", "[nn][layer_norm]") {
  manual_seed(7);
  nn::LayerNorm norm({2, 3}, 1e-5, true, DType::f64);
  const Tensor x = randn({4, 2, 3}, DType::f64).requires_grad_();
  const Tensor weight = randn({2, 3}, DType::f64).requires_grad_();
  const Tensor bias = randn({2, 3}, DType::f64).requires_grad_();
  CHECK(gradcheck_affine(norm, x, weight, bias));
}

TEST_CASE("LayerNorm names the shape it expected and the one it got", "[nn][layer_norm]") {
  nn::LayerNorm norm({3});
  CHECK_THROWS_AS(norm(zeros({2, 4})), ShapeError);
  CHECK_THROWS_WITH(norm(zeros({2, 4})), Catch::StartsWith("LayerNorm: expected input [..., ") &&
                                             Catch::Contains("got [2, 4]"));
}

TEST_CASE("BatchNorm1d tracks running statistics over two batches and uses them in eval",
          "[nn][batch_norm]") {
  nn::BatchNorm1d norm(2, 1e-5, 0.1, true, DType::f64);
  // Batch 1, channels [1, 3] and [2, 6]: means 2 and 4, biased variances 1 and
  // 4, unbiased 2 and 8. Running mean 0.1 * [2, 4]; running var 0.9 + 0.1 * [2, 8].
  check_values(norm(tensor({1, 2, 3, 6}, {2, 2}, DType::f64)), {-1, -1, 1, 1});
  check_values(norm.running_mean, {0.2, 0.4});
  check_values(norm.running_var, {1.1, 1.7});
  // Batch 2, channels [0, 0] and [0, 2]: means 0 and 1, unbiased variances 0 and 2.
  norm(tensor({0, 0, 0, 2}, {2, 2}, DType::f64));
  check_values(norm.running_mean, {0.18, 0.46});
  check_values(norm.running_var, {0.99, 1.73});
  CHECK(norm.num_batches_tracked.item<std::int64_t>() == 2);

  norm.eval();
  check_values(norm(tensor({1, 1}, {1, 2}, DType::f64)),
               {0.82 / std::sqrt(0.99 + 1e-5), 0.54 / std::sqrt(1.73 + 1e-5)});
  CHECK(norm.num_batches_tracked.item<std::int64_t>() == 2);
}

TEST_CASE("BatchNorm1d normalises a batch of sequences over batch and length", "[nn][batch_norm]") {
  nn::BatchNorm1d norm(2, 0.0, 0.1, true, DType::f64);
  // Channel 0 holds 1, 3, 1, 3 and channel 1 holds 5 four times.
  check_values(norm(tensor({1, 3, 5, 5, 1, 3, 5, 5}, {2, 2, 2}, DType::f64)).select(1, 0),
               {-1, 1, -1, 1});
  check_values(norm.running_mean, {0.2, 0.5});
  check_values(norm.running_var, {0.9 + 0.1 * 4.0 / 3, 0.9});
}

TEST_CASE("BatchNorm1d passes gradcheck in f64 in training and eval mode", "[nn][batch_norm]") {
  manual_seed(8);
  nn::BatchNorm1d norm(3, 1e-5, 0.1, true, DType::f64);
  const Tensor weight = randn({3}, DType::f64).requires_grad_();
  const Tensor bias = randn({3}, DType::f64).requires_grad_();
  for (const bool training : {true, false}) {
    norm.train(training);
    for (const Shape& shape : {Shape{4, 3}, Shape{2, 3, 5}}) {
      CHECK(gradcheck_affine(norm, randn(shape, DType::f64).requires_grad_(), weight, bias));
    }
  }
}

TEST_CASE("BatchNorm2d passes gradcheck in f64 in training and eval mode", "[nn][batch_norm]") {
  manual_seed(9);
  nn::BatchNorm2d norm(2, 1e-5, 0.1, true, DType::f64);
  const Tensor weight = randn({2}, DType::f64).requires_grad_();
  const Tensor bias = randn({2}, DType::f64).requires_grad_();
  for (const bool training : {true, false}) {
    norm.train(training);
    CHECK(gradcheck_affine(norm, randn({2, 2, 3, 2}, DType::f64).requires_grad_(), weight, bias));
  }
}

TEST_CASE("BatchNorm1d rejects other shapes and single-value batches in training",
          "[nn][batch_norm]") {
  nn::BatchNorm1d norm(3);
  CHECK_THROWS_AS(norm(zeros({4, 2})), ShapeError);
  CHECK_THROWS_WITH(norm(zeros({4, 2})),
                    "BatchNorm1d: expected input [N, 3] or [N, 3, L], got [4, 2]");
  CHECK_THROWS_AS(norm(zeros({1, 3})), ValueError);
  norm.eval();
  CHECK(norm(zeros({1, 3})).shape() == Shape{1, 3});
}

TEST_CASE("Embedding picks rows for indices of any shape", "[nn][embedding]") {
  nn::Embedding embedding(3, 2, DType::f64);
  embedding.weight = make_parameter(tensor({0, 1, 10, 11, 20, 21}, {3, 2}, DType::f64));
  const Tensor out = embedding(tensor({2, 0, 2, 1}, {2, 2}, DType::i64));
  CHECK(out.shape() == Shape{2, 2, 2});
  check_values(out, {20, 21, 0, 1, 20, 21, 10, 11});
  // Row 2 was picked twice, so its gradient is 2; row 1 once, row 0 once.
  sum(out).backward();
  check_values(embedding.weight->value().grad(), {1, 1, 1, 1, 2, 2});
}

TEST_CASE("Embedding passes gradcheck in f64 for its weight", "[nn][embedding]") {
  manual_seed(9);
  nn::Embedding embedding(4, 3, DType::f64);
  const Tensor indices = tensor({3, 3, 0}, {3}, DType::i64);
  CHECK(gradcheck(
      [&](const std::vector<Tensor>& in) {
        embedding.weight = make_parameter(in[0]);
        return embedding(indices);
      },
      {randn({4, 3}, DType::f64).requires_grad_()}));
}

TEST_CASE("Embedding rejects non-i64 and out-of-range indices", "[nn][embedding]") {
  nn::Embedding embedding(3, 2);
  CHECK_THROWS_WITH(embedding(tensor({0}, {1})), "Embedding: expected i64 indices, got f32");
  CHECK_THROWS_AS(embedding(tensor({3}, {1}, DType::i64)), IndexError);
  CHECK_THROWS_WITH(embedding(tensor({3}, {1}, DType::i64)),
                    Catch::StartsWith("Embedding: expected indices in [0, 3)"));
}
