// Sorting, selection and splitting beyond the op table: the order of ties and
// NaN (PyTorch 1.13's values), the errors that name each op, multi-output
// nodes in the engine (split, chunk, unbind and a user's own), and from_blob.
#include <catch2/catch.hpp>

#include <cmath>
#include <span>
#include <vector>

#include "tensor_checks.h"
#include "tether/node.h"
#include "tether/tether.h"

using namespace tether;
using Catch::Matchers::Contains;
using testing::f64;

namespace {

std::vector<std::int64_t> indices_of(const Tensor& t) {
  return t.to_vector<std::int64_t>();
}

/// [3, NaN, 1, 3, NaN, -1]: ties among numbers and among NaNs.
Tensor with_nan_and_ties() {
  return f64({3, NAN, 1, 3, NAN, -1}, {6});
}

}  // namespace

TEST_CASE("sort puts NaN last ascending and first descending and keeps equal elements in order",
          "[ops][sort]") {
  // torch.sort(a) and torch.sort(a, descending=True, stable=True)
  const auto [values, indices] = sort(with_nan_and_ties());
  CHECK(indices_of(indices) == std::vector<std::int64_t>{5, 2, 0, 3, 1, 4});
  CHECK(values.to_vector<double>()[3] == 3.0);
  CHECK(std::isnan(values.to_vector<double>()[5]));
  CHECK(indices_of(argsort(with_nan_and_ties(), -1, true)) ==
        std::vector<std::int64_t>{1, 4, 0, 3, 2, 5});
  CHECK(indices_of(with_nan_and_ties().sort(0, true, true).indices) ==
        std::vector<std::int64_t>{1, 4, 0, 3, 2, 5});
  CHECK(indices_of(sort(arange(5).neg()).indices) == std::vector<std::int64_t>{4, 3, 2, 1, 0});
}

TEST_CASE("topk counts NaN as largest and takes the first of equal elements", "[ops][sort]") {
  // torch.topk(a, 3) gives NaN, NaN, 3 (torch takes index 3 of the tied 3s, tether the first).
  const auto [values, indices] = topk(with_nan_and_ties(), 3);
  CHECK(indices_of(indices) == std::vector<std::int64_t>{1, 4, 0});
  CHECK(values.to_vector<double>()[2] == 3.0);
  CHECK(indices_of(with_nan_and_ties().topk(3, 0, false).indices) ==
        std::vector<std::int64_t>{5, 2, 0});
  CHECK(topk(with_nan_and_ties(), 0).values.shape() == Shape{0});
}

TEST_CASE("max and min over a dim propagate NaN and point at the first extreme element",
          "[ops][sort]") {
  // torch.max(a, 0), torch.min(a, 0), torch.argmin(a)
  CHECK(indices_of(max(with_nan_and_ties(), 0).indices) == std::vector<std::int64_t>{1});
  CHECK(std::isnan(min(with_nan_and_ties(), 0).values.item<double>()));
  CHECK(argmin(with_nan_and_ties(), 0).item<std::int64_t>() == 1);
  const Tensor x = f64({1, 2, 3, 0}, {2, 2});
  const auto [values, indices] = x.max(1, true);
  CHECK(values.shape() == Shape{2, 1});
  CHECK(values.to_vector<double>() == std::vector<double>{2, 3});
  CHECK(indices_of(indices) == std::vector<std::int64_t>{1, 0});
  CHECK(indices_of(x.min(0).indices) == std::vector<std::int64_t>{0, 1});
  CHECK(x.argmin(0).shape() == Shape{2});
}

TEST_CASE("max over a dim sends the gradient to the first of tied elements only", "[ops][sort]") {
  // torch: x = [3., 3., 1.]; x.max(0).values.backward() gives [1, 0, 0] (amax shares it).
  const Tensor x = f64({3, 3, 1}, {3}).requires_grad_();
  max(x, 0).values.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 0, 0});
}

TEST_CASE("sort, topk, max, min, argmax and argmin of a 0-d tensor give it back with index 0", "[ops][sort]") {
  const Tensor x = scalar_tensor(5.0, DType::f64);
  // argmax and argmin of a 0-d tensor threw "dimension 0 of shape [] is empty".
  for (const Tensor& index : {argmax(x, 0), argmin(x, -1, true), argsort(x)}) {
    CHECK(index.shape() == Shape{});
    CHECK(index.item<std::int64_t>() == 0);
  }
  for (const ValuesAndIndices& r : {sort(x), topk(x, 1), max(x, 0), min(x, -1)}) {
    CHECK(r.values.shape() == Shape{});
    CHECK(r.values.item<double>() == 5.0);
    CHECK(r.indices.item<std::int64_t>() == 0);
  }
}

TEST_CASE("sort, topk, max, split, chunk and unbind name themselves for bad arguments",
          "[ops][sort]") {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_THROWS_WITH(sort(x, 2), Contains("sort") && Contains("dim"));
  CHECK_THROWS_AS(topk(x, 4), IndexError);
  CHECK_THROWS_WITH(topk(x, 4), Contains("topk: k = 4 is out of range"));
  CHECK_THROWS_WITH(topk(x, -1, 0), Contains("topk: k = -1"));
  CHECK_THROWS_WITH(max(zeros({0, 2}), 0), Contains("max: cannot reduce over dimension 0"));
  CHECK_THROWS_WITH(argmin(zeros({0, 2}), 0), Contains("argmin"));
  CHECK_THROWS_AS(chunk(x, 0), ValueError);
  CHECK_THROWS_WITH(chunk(x, 0), Contains("chunk: expected chunks >= 1, got 0"));
  CHECK_THROWS_WITH(split(x, 0, 1), Contains("split: expected a split_size >= 1"));
  CHECK_THROWS_WITH(
      split(x, {1, 1}, 1),
      Contains("split: expected sections >= 0 that sum to the size 3") && Contains("got [1, 1]"));
  CHECK_THROWS_WITH(split(x, {4, -1}, 1), Contains("split: expected sections >= 0"));
  CHECK_THROWS_WITH(unbind(scalar_tensor(1.0)), Contains("unbind: cannot split a 0-d tensor"));
  CHECK_THROWS_WITH(unbind(x, 2), Contains("unbind"));
  CHECK_THROWS_WITH(sort(Tensor()), Contains("sort: expected a defined tensor"));
}

TEST_CASE("split, chunk and unbind give PyTorch's parts, empty dims included", "[ops][sort]") {
  const auto shapes = [](const std::vector<Tensor>& parts) {
    std::vector<Shape> out;
    for (const auto& p : parts) out.push_back(p.shape());
    return out;
  };
  // torch.chunk(torch.zeros(6), 4) has 3 parts; torch.split(torch.zeros(0, 3), 2) one.
  CHECK(shapes(chunk(zeros({6}), 4)) == std::vector<Shape>{{2}, {2}, {2}});
  CHECK(shapes(zeros({5}).chunk(3)) == std::vector<Shape>{{2}, {2}, {1}});
  CHECK(shapes(split(zeros({0, 3}), 2)) == std::vector<Shape>{{0, 3}});
  CHECK(shapes(split(zeros({0, 3}), 0)) == std::vector<Shape>{{0, 3}});
  CHECK(shapes(chunk(zeros({0, 3}), 2)) == std::vector<Shape>{{0, 3}});
  CHECK(unbind(zeros({0, 3})).empty());
  CHECK(shapes(zeros({2, 3}).unbind(1)) == std::vector<Shape>{{2}, {2}, {2}});
  CHECK(shapes(zeros({2, 5}).split({1, 0, 4}, -1)) == std::vector<Shape>{{2, 1}, {2, 0}, {2, 4}});
  CHECK(shapes(zeros({5, 2}).split(2)) == std::vector<Shape>{{2, 2}, {2, 2}, {1, 2}});
}

TEST_CASE("the parts of unbind share one node, and parts without a gradient get zeros",
          "[autograd][sort]") {
  const Tensor x = randn({4, 3}, DType::f64).requires_grad_();
  const std::vector<Tensor> rows = unbind(x);
  REQUIRE(rows.size() == 4);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    CHECK(rows[k].grad_fn() == rows[0].grad_fn());
    CHECK(rows[k].impl()->output_nr == k);
  }
  CHECK(rows[0].grad_fn()->name() == "unbind");
  CHECK(rows[0].grad_fn()->num_outputs() == 4);
  (rows[1] * 2.0 + rows[3]).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1});
}

TEST_CASE("gradcheck and gradgradcheck pass when only some parts of a split are used",
          "[autograd][sort]") {
  const Tensor x = randn({5, 3}, DType::f64).requires_grad_();
  const auto some_parts = [](const std::vector<Tensor>& in) {
    const std::vector<Tensor> parts = split(in[0], 2);
    const std::vector<Tensor> columns = unbind(in[0], 1);
    return parts[1] * parts[1] + (columns[2] * columns[0]).sum();
  };
  CHECK(gradcheck(some_parts, {x}));
  CHECK(gradgradcheck(some_parts, {x}));
}

TEST_CASE("autograd::grad takes gradients for and through the outputs of a multi-output node",
          "[autograd][sort]") {
  const Tensor x = f64({1, 2, 3, 4}, {4}).requires_grad_();
  const std::vector<Tensor> parts = chunk(x, 2);
  const Tensor loss = (parts[0] * parts[0]).sum() + (parts[1] * 3.0).sum();
  // d loss / d part: 2 * part for the first, 3 for the second.
  const std::vector<Tensor> grads = autograd::grad({loss}, {parts[1], parts[0]}, {}, true);
  CHECK(grads[0].to_vector<double>() == std::vector<double>{3, 3});
  CHECK(grads[1].to_vector<double>() == std::vector<double>{2, 4});
  // Two roots on one node: each output's gradient goes to its own slot.
  autograd::backward({parts[0], parts[1]}, {f64({1, 2}, {2}), f64({10, 20}, {2})});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2, 10, 20});
}

TEST_CASE("record_outputs records a user's op with two outputs that saves both",
          "[autograd][sort]") {
  // sin and cos of x as one node; its backward uses its own saved outputs, so
  // second derivatives flow back through the node's two outputs.
  const auto sincos = [](const Tensor& x) {
    std::vector<Tensor> outputs;
    {
      NoGradGuard no_grad;
      outputs = {sin(x), cos(x)};
    }
    const Tensor s = outputs[0], c = outputs[1];
    return autograd::record_outputs(
        "sincos", {x}, outputs, {s, c},
        [](autograd::Node& n, std::span<const Tensor> g) -> autograd::GradList {
          const Tensor s = n.saved(0), c = n.saved(1);
          Tensor grad = zeros_like(s);
          if (g[0].defined()) grad = grad + g[0] * c;
          if (g[1].defined()) grad = grad - g[1] * s;
          return {grad};
        });
  };
  const Tensor x = randn({3}, DType::f64).requires_grad_();
  const auto f = [&](const std::vector<Tensor>& in) {
    const std::vector<Tensor> sc = sincos(in[0]);
    return sc[0] * 2.0 + sc[1] * sc[1] * 3.0;
  };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
  const auto only_cos = [&](const std::vector<Tensor>& in) { return sincos(in[0])[1]; };
  CHECK(gradgradcheck(only_cos, {x}));
}

TEST_CASE("from_blob wraps caller-owned memory without a copy and calls its deleter once",
          "[core][from_blob]") {
  std::vector<float> memory = {1, 2, 3, 4, 5, 6};
  int deleted = 0;
  void* seen = nullptr;
  {
    const Tensor view_alive_longer = [&] {
      Tensor t = from_blob(memory.data(), {2, 3}, DType::f32, [&](void* p) {
        ++deleted;
        seen = p;
      });
      CHECK(t.data_ptr<float>() == memory.data());
      CHECK(t.sum().item<double>() == 21.0);
      memory[4] = 50;  // writes through the pointer are seen by the tensor
      CHECK(t.to_vector<float>()[4] == 50.0f);
      t.mul_(2.0);  // and the tensor's writes by the caller
      CHECK(memory[0] == 2.0f);
      CHECK_FALSE(t.requires_grad());
      return t.select(0, 1);
    }();
    CHECK(deleted == 0);  // a view keeps the storage alive
    CHECK(view_alive_longer.to_vector<float>() == std::vector<float>{8, 100, 12});
  }
  CHECK(deleted == 1);
  CHECK(seen == memory.data());
  const Tensor without_deleter = from_blob(memory.data(), {6}, DType::f32);
  CHECK(without_deleter.to_vector<float>()[1] == 4.0f);
  CHECK_THROWS_WITH(from_blob(nullptr, {2}, DType::f64), Contains("from_blob: expected a pointer"));
  CHECK_THROWS_WITH(from_blob(memory.data(), {-1}, DType::f32), Contains("from_blob"));
  CHECK(from_blob(nullptr, {0, 3}, DType::f64).numel() == 0);
}
