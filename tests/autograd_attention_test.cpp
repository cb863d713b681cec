// scaled_dot_product_attention against its composition from matmul, softmax
// and the additive masks, to 1e-12 in f64: values, first derivatives and
// second derivatives; its dropout against the same draw made by hand; its
// edge cases and errors. The op table (op_table_attention.cpp) holds its
// closed-form values, gradcheck and gradgradcheck.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tensor_checks.h"
#include "tether/node.h"
#include "tether/tether.h"

namespace tether {
namespace {

using testing::max_abs_diff;

constexpr double kInf = std::numeric_limits<double>::infinity();

/// The attention written out with recorded ops, as the op documents it.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                          double scale, const Tensor& dropout_scale = {}) {
  Tensor scores = matmul(q, k.mT()) * scale;
  if (mask.defined()) scores = scores + mask;
  Tensor weights = softmax(scores, -1);
  if (dropout_scale.defined()) weights = weights * dropout_scale;
  return matmul(weights, v);
}

Tensor leaf(const Shape& shape) {
  return randn(shape, DType::f64).requires_grad_();
}

/// Every gradient of sum(out * weights) with respect to `inputs`, and the
/// gradient of their sum of squares (a second derivative) with respect to the same.
std::vector<Tensor> first_and_second(const Tensor& out, const std::vector<Tensor>& inputs,
                                     const Tensor& weights) {
  std::vector<Tensor> grads = autograd::grad({sum(out * weights)}, inputs, {}, true, true);
  Tensor squares = zeros({}, DType::f64);
  for (const auto& g : grads) squares = squares + sum(g * g);
  std::vector<Tensor> result = grads;
  for (const auto& h : autograd::grad({squares}, inputs)) result.push_back(h);
  return result;
}

TEST_CASE(
    "scaled_dot_product_attention equals matmul and softmax to 1e-12 in f64, with its "
    "first and second derivatives",
    "[attention]") {
  manual_seed(3);
  const Tensor q = leaf({2, 3, 4, 5}), k = leaf({2, 3, 6, 5}), v = leaf({2, 3, 6, 2});
  const Tensor mask = where(rand({4, 6}, DType::f64) < 0.25, full({4, 6}, -kInf, DType::f64),
                            randn({4, 6}, DType::f64));
  // Key 0 stays open to every query: a fully masked row is NaN (tested below).
  const Tensor safe_mask =
      cat({zeros({4, 1}, DType::f64), narrow(mask, 1, 1, 5)}, 1).requires_grad_();
  const Tensor out = scaled_dot_product_attention(q, k, v, safe_mask);
  const Tensor expected = composed_attention(q, k, v, safe_mask, 1 / std::sqrt(5.0));
  CHECK(max_abs_diff(out, expected) < 1e-12);
  const Tensor weights = randn(out.shape(), DType::f64);
  const std::vector<Tensor> inputs = {q, k, v, safe_mask};
  const auto got = first_and_second(out, inputs, weights);
  const auto want = first_and_second(expected, inputs, weights);
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("derivative " << i << " (inputs q, k, v, mask; first, then second)");
    CHECK(max_abs_diff(got[i], want[i]) < 1e-12);
  }
}

TEST_CASE("scaled_dot_product_attention records one node whose edges lead to its inputs",
          "[attention]") {
  const Tensor q = leaf({3, 2}), k = leaf({4, 2}), v = leaf({4, 3});
  const Tensor out = scaled_dot_product_attention(q, k, v);
  REQUIRE(out.grad_fn());
  CHECK(out.grad_fn()->name() == "scaled_dot_product_attention");
  for (const auto& next : out.grad_fn()->next_edges())
    if (next.node) CHECK(next.node->name() == "AccumulateGrad");
}

TEST_CASE(
    "causal scaled_dot_product_attention equals the top-left tril mask of -inf, also "
    "for more keys than queries",
    "[attention]") {
  manual_seed(4);
  const Tensor q = leaf({2, 3, 4}), k = leaf({2, 5, 4}), v = leaf({2, 5, 3});
  const Tensor out = scaled_dot_product_attention(q, k, v, {}, 0.0, true, 0.7);
  const Tensor mask = triu(full({3, 5}, -kInf, DType::f64), 1);
  const Tensor expected = composed_attention(q, k, v, mask, 0.7);
  CHECK(max_abs_diff(out, expected) < 1e-12);
  const Tensor weights = randn(out.shape(), DType::f64);
  const auto got = first_and_second(out, {q, k, v}, weights);
  const auto want = first_and_second(expected, {q, k, v}, weights);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(max_abs_diff(got[i], want[i]) < 1e-12);
}

TEST_CASE(
    "scaled_dot_product_attention gives NaN for a query whose keys are all masked, as "
    "torch 1.13",
    "[attention]") {
  const Tensor q = ones({2, 1}, DType::f64), k = ones({3, 1}, DType::f64);
  const Tensor v = testing::f64({0, 1, 2}, {3, 1});
  const Tensor mask = testing::f64({-kInf, -kInf, -kInf, 0, 0, 0}, {2, 3});
  const std::vector<double> out = scaled_dot_product_attention(q, k, v, mask).to_vector<double>();
  CHECK(std::isnan(out[0]));
  CHECK(out[1] == Approx(1.0));
}

TEST_CASE(
    "scaled_dot_product_attention's dropout drops the weights of a global-generator "
    "draw and scales the rest, in value and gradient",
    "[attention]") {
  const Tensor q = leaf({2, 4, 3}), k = leaf({2, 5, 3}), v = leaf({2, 5, 2});
  const double p = 0.3;
  manual_seed(11);
  const Tensor out = scaled_dot_product_attention(q, k, v, {}, p);
  // The same draw, made as nn::Dropout makes it, over the weights' shape.
  manual_seed(11);
  const Tensor keep = (rand({2, 4, 5}, DType::f64) >= p).to(DType::f64) * (1 / (1 - p));
  const Tensor expected = composed_attention(q, k, v, {}, 1 / std::sqrt(3.0), keep);
  CHECK(max_abs_diff(out, expected) < 1e-12);
  const Tensor weights = randn(out.shape(), DType::f64);
  const auto got = first_and_second(out, {q, k, v}, weights);
  const auto want = first_and_second(expected, {q, k, v}, weights);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(max_abs_diff(got[i], want[i]) < 1e-12);
}

TEST_CASE("scaled_dot_product_attention with dropout_p 1 gives zeros and zero gradients",
          "[attention]") {
  const Tensor q = leaf({2, 3}), k = leaf({4, 3}), v = leaf({4, 2});
  const Tensor out = scaled_dot_product_attention(q, k, v, {}, 1.0);
  CHECK(max_abs_diff(out, zeros({2, 2}, DType::f64)) == 0);
  for (const auto& g : autograd::grad({sum(out)}, {q, k, v}))
    CHECK(max_abs_diff(g, zeros_like(g)) == 0);
}

TEST_CASE("scaled_dot_product_attention computes in f32 as in f64", "[attention]") {
  const Tensor q = randn({2, 3, 4}, DType::f64), k = randn({2, 5, 4}, DType::f64),
               v = randn({2, 5, 3}, DType::f64);
  const Tensor out = scaled_dot_product_attention(q.to(DType::f32), k.to(DType::f32),
                                                  v.to(DType::f32), {}, 0.0, true);
  CHECK(out.dtype() == DType::f32);
  CHECK(max_abs_diff(out, scaled_dot_product_attention(q, k, v, {}, 0.0, true)) < 1e-5);
}

TEST_CASE("scaled_dot_product_attention refuses bad arguments with errors naming it",
          "[attention]") {
  const Tensor q = randn({2, 3}), k = randn({4, 3}), v = randn({4, 2});
  using Catch::Matchers::Contains;
  const Tensor i64_mask = zeros({2, 4}, DType::i64), f64_key = k.to(DType::f64);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, zeros({2, 4}), 0.0, true), ValueError);
  CHECK_THROWS_WITH(
      scaled_dot_product_attention(q, k, v, zeros({2, 4}), 0.0, true),
      Contains("scaled_dot_product_attention: an explicit attn_mask cannot be combined"));
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, i64_mask), DTypeError);
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, k, v, i64_mask),
                    Contains("additive one of the query's dtype f32, got i64"));
  CHECK_THROWS_AS(scaled_dot_product_attention(q, randn({4, 2}), v), ShapeError);
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, randn({4, 2}), v),
                    Contains("with matching E and S"));
  CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, zeros({3, 4})), ShapeError);
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, k, v, zeros({3, 4})),
                    Contains("scaled_dot_product_attention"));
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, k, v, {}, 1.5),
                    Contains("expected dropout_p in [0, 1], got 1.5"));
  CHECK_THROWS_AS(scaled_dot_product_attention(q, f64_key, v), DTypeError);
}

}  // namespace
}  // namespace tether
