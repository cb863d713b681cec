// The repros of issue 10's defects 6 (segfaults) and 10 (misleading messages
// of softmax and cholesky), exactly as filed, plus the reductions over empty
// dims they belong with, checked against torch 1.13's results.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tether/tether.h"

namespace tether {
namespace {

/// Runs `f`, which must throw E with a message containing every one of `parts`.
template <class E>
void check_throws(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
    FAIL("no error");
  } catch (const E& e) {
    const std::string message = e.what();
    INFO(message);
    for (const auto& part : parts) CHECK(message.find(part) != std::string::npos);
  }
}

constexpr std::int64_t kHuge = std::int64_t{1} << 62;

TEST_CASE("zeros of 2^62 elements, or 2^62 x 4, throws a ShapeError naming zeros and the shape",
          "[repro]") {
  check_throws<ShapeError>([] { zeros({kHuge}); }, {"zeros", "[4611686018427387904]"});
  check_throws<ShapeError>([] { zeros({kHuge, 4}); }, {"zeros", "[4611686018427387904, 4]"});
}

TEST_CASE("randn of [3, 2^62] throws a ShapeError naming randn, and so never reaches a matmul",
          "[repro]") {
  check_throws<ShapeError>(
      [] {
        const Tensor a = randn({3, kHuge});
        matmul(a, a.t());
      },
      {"randn", "[3, 4611686018427387904]"});
}

TEST_CASE("a [3, 2^40] f32 tensor, 12 TB, throws an OutOfMemoryError without allocating",
          "[repro]") {
  check_throws<OutOfMemoryError>(
      [] {
        zeros({3, std::int64_t{1} << 40});
      },
      {"zeros", "[3, 1099511627776]", "13194139533312 bytes"});
}

TEST_CASE("a gradient before any backward is undefined, and every use of it names the op",
          "[repro]") {
  const Tensor w = randn({2, 3}).requires_grad_();
  const Tensor u = w.grad();
  REQUIRE_FALSE(u.defined());
  const std::string undefined = "expected a defined tensor";
  check_throws<ValueError>([&] { u.sum(); }, {"sum", undefined});
  check_throws<ValueError>([&] { u.amax(); }, {"amax", undefined});
  check_throws<ValueError>([&] { u.t(); }, {"t:", undefined});
  check_throws<ValueError>([&] { u.dim(); }, {"dim", undefined});
  check_throws<ValueError>([&] { u.numel(); }, {"numel", undefined});
  check_throws<ValueError>([&] { u.shape(); }, {"shape", undefined});
  check_throws<ValueError>([&] { Tensor(u).requires_grad_(); }, {"requires_grad_", undefined});
  check_throws<ValueError>([&] { u.grad(); }, {"grad", undefined});
  check_throws<ValueError>([&] { u.dtype(); }, {"dtype", undefined});
  check_throws<ValueError>([&] { u.device(); }, {"device", undefined});
  check_throws<ValueError>([&] { u.size(0); }, {"size", undefined});
  check_throws<ValueError>([&] { u.is_contiguous(); }, {"is_contiguous", undefined});
  check_throws<ValueError>([&] { u.data_ptr<float>(); }, {"data_ptr", undefined});
  check_throws<ValueError>([&] { nn::mse_loss(u, u); }, {"mse_loss", undefined});
  check_throws<ValueError>([&] { w.expand_as(u); }, {"expand_as", undefined});
  check_throws<ValueError>([&] { zeros_like(u); }, {"zeros_like", undefined});
}

TEST_CASE("every Tensor method on an undefined tensor throws a ValueError naming the method",
          "[repro]") {
  Tensor u;
  const Tensor x = zeros({2, 2}), index = zeros({2}, DType::i64);
  using Call = std::function<void()>;
  const std::vector<std::pair<std::string, Call>> calls = {
      {"shape", [&] { u.shape(); }},
      {"sizes", [&] { u.sizes(); }},
      {"strides", [&] { u.strides(); }},
      {"dim", [&] { u.dim(); }},
      {"size", [&] { u.size(0); }},
      {"stride", [&] { u.stride(0); }},
      {"numel", [&] { u.numel(); }},
      {"dtype", [&] { u.dtype(); }},
      {"device", [&] { u.device(); }},
      {"options", [&] { u.options(); }},
      {"storage_offset", [&] { u.storage_offset(); }},
      {"is_contiguous", [&] { u.is_contiguous(); }},
      {"is_floating_point", [&] { u.is_floating_point(); }},
      {"data_ptr", [&] { u.data_ptr<float>(); }},
      {"raw_data", [&] { u.raw_data(); }},
      {"storage", [&] { u.storage(); }},
      {"version", [&] { u.version(); }},
      {"requires_grad", [&] { u.requires_grad(); }},
      {"requires_grad_", [&] { u.requires_grad_(); }},
      {"grad", [&] { u.grad(); }},
      {"set_grad", [&] { u.set_grad(x); }},
      {"is_leaf", [&] { u.is_leaf(); }},
      {"grad_fn", [&] { u.grad_fn(); }},
      {"backward", [&] { u.backward(); }},
      {"detach", [&] { u.detach(); }},
      {"item", [&] { u.item<float>(); }},
      {"to_vector", [&] { u.to_vector<float>(); }},
      {"to", [&] { u.to(DType::f64); }},
      {"to", [&] { u.to(Device::cpu()); }},
      {"clone", [&] { u.clone(); }},
      {"contiguous", [&] { u.contiguous(); }},
      {"reshape", [&] { u.reshape({4}); }},
      {"view", [&] { u.view({4}); }},
      {"flatten", [&] { u.flatten(); }},
      {"transpose", [&] { u.transpose(0, 1); }},
      {"t", [&] { u.t(); }},
      {"mT", [&] { u.mT(); }},
      {"permute",
       [&] {
         u.permute({1, 0});
       }},
      {"squeeze", [&] { u.squeeze(); }},
      {"squeeze", [&] { u.squeeze(0); }},
      {"unsqueeze", [&] { u.unsqueeze(0); }},
      {"expand",
       [&] {
         u.expand({2, 2});
       }},
      {"expand_as", [&] { u.expand_as(x); }},
      {"expand_as", [&] { x.expand_as(u); }},
      {"narrow", [&] { u.narrow(0, 0, 1); }},
      {"select", [&] { u.select(0, 0); }},
      {"index_select", [&] { u.index_select(0, index); }},
      {"index_select", [&] { x.index_select(0, u); }},
      {"gather", [&] { u.gather(0, index); }},
      {"neg", [&] { u.neg(); }},
      {"pow", [&] { u.pow(2.0); }},
      {"pow", [&] { u.pow(x); }},
      {"pow", [&] { x.pow(u); }},
      {"exp", [&] { u.exp(); }},
      {"log", [&] { u.log(); }},
      {"log1p", [&] { u.log1p(); }},
      {"sqrt", [&] { u.sqrt(); }},
      {"rsqrt", [&] { u.rsqrt(); }},
      {"abs", [&] { u.abs(); }},
      {"sin", [&] { u.sin(); }},
      {"cos", [&] { u.cos(); }},
      {"tanh", [&] { u.tanh(); }},
      {"sigmoid", [&] { u.sigmoid(); }},
      {"relu", [&] { u.relu(); }},
      {"clamp", [&] { u.clamp(0.0, 1.0); }},
      {"sum", [&] { u.sum(); }},
      {"mean", [&] { u.mean(); }},
      {"var", [&] { u.var(); }},
      {"amax", [&] { u.amax(); }},
      {"amin", [&] { u.amin(); }},
      {"logsumexp", [&] { u.logsumexp({0}); }},
      {"norm", [&] { u.norm(); }},
      {"argmax", [&] { u.argmax(0); }},
      {"softmax", [&] { u.softmax(0); }},
      {"log_softmax", [&] { u.log_softmax(0); }},
      {"matmul", [&] { u.matmul(x); }},
      {"matmul", [&] { x.matmul(u); }},
      {"mm", [&] { u.mm(x); }},
      {"mv", [&] { x.mv(u); }},
      {"dot", [&] { u.dot(u); }},
      {"add_", [&] { u.add_(x); }},
      {"add_", [&] { Tensor(x).add_(u); }},
      {"add_", [&] { Tensor(x).add_(u, 2.0); }},
      {"add_", [&] { u.add_(1.0); }},
      {"sub_", [&] { u.sub_(x); }},
      {"mul_", [&] { u.mul_(x); }},
      {"mul_", [&] { u.mul_(2.0); }},
      {"div_", [&] { u.div_(2.0); }},
      {"copy_", [&] { u.copy_(x); }},
      {"copy_", [&] { Tensor(x).copy_(u); }},
      {"fill_", [&] { u.fill_(1.0); }},
      {"zero_", [&] { u.zero_(); }},
  };
  for (const auto& [name, call] : calls) {
    INFO(name);
    check_throws<ValueError>(call, {name + ": expected a defined tensor"});
  }
  std::ostringstream printed;
  printed << u;
  CHECK(printed.str() == "tensor(undefined)");
}

TEST_CASE("softmax and log_softmax over an empty dimension return an empty result, as torch",
          "[repro]") {
  const Tensor x = zeros({2, 0});
  CHECK(softmax(x, 1).shape() == Shape{2, 0});
  CHECK(log_softmax(x, 1).shape() == Shape{2, 0});
  CHECK(softmax(zeros({0, 3}), 1).shape() == Shape{0, 3});
  const Tensor leaf = zeros({2, 0}).requires_grad_();
  softmax(leaf, 1).sum().backward();
  CHECK(leaf.grad().shape() == Shape{2, 0});
}

TEST_CASE(
    "amax, amin and argmax over an empty dimension throw an IndexError naming the op and "
    "the dim",
    "[repro]") {
  const Tensor x = zeros({2, 0});
  check_throws<IndexError>([&] { amax(x, {1}); }, {"amax", "dimension 1", "[2, 0]", "empty"});
  check_throws<IndexError>([&] { amin(x, {-1}); }, {"amin", "dimension 1", "empty"});
  check_throws<IndexError>([&] { amax(x); }, {"amax", "dimension 1"});
  check_throws<IndexError>([&] { argmax(x, 1); }, {"argmax", "dimension 1", "empty"});
  // Over a dimension that is not empty the result is empty, as in torch.
  CHECK(amax(x, {0}).shape() == Shape{0});
  CHECK(argmax(x, 0).shape() == Shape{0});
}

TEST_CASE(
    "reductions over empty dims give torch's values: sum 0, mean and var NaN, "
    "logsumexp -inf",
    "[repro]") {
  const Tensor x = zeros({2, 0});
  CHECK(sum(x, {1}).to_vector<double>() == std::vector<double>{0.0, 0.0});
  CHECK(norm(x, {1}).to_vector<double>() == std::vector<double>{0.0, 0.0});
  for (const Tensor& r : {mean(x, {1}), var(x, {1}), mean(zeros({0})), var(zeros({0}))})
    for (double v : r.to_vector<double>()) CHECK(std::isnan(v));
  CHECK(logsumexp(x, {1}).to_vector<double>() == std::vector<double>{-INFINITY, -INFINITY});
  CHECK(logsumexp(x, {0, 1}).item<double>() == -INFINITY);
  CHECK(normalize(x, 1).shape() == Shape{2, 0});
  // The variance of one element, with Bessel's correction, is NaN too.
  CHECK(std::isnan(var(ones({1})).item<double>()));
}

TEST_CASE("products over an empty inner dimension are zeros, as in torch", "[repro]") {
  const Tensor a = ones({2, 0}), b = ones({0, 3}), v = ones({0});
  // Fill the allocator's cache with non-zero garbage first: nothing may be left unwritten.
  for (int i = 0; i < 4; ++i) full({2, 3}, NAN);
  CHECK(matmul(a, b).to_vector<double>() == std::vector<double>(6, 0.0));
  CHECK(mm(a, b).to_vector<double>() == std::vector<double>(6, 0.0));
  CHECK(mv(a, v).to_vector<double>() == std::vector<double>(2, 0.0));
  CHECK(dot(v, v).item<double>() == 0.0);
  CHECK(matmul(ones({4, 2, 0}), ones({4, 0, 3})).to_vector<double>() ==
        std::vector<double>(24, 0.0));
  CHECK(linear(a, ones({3, 0}), ones({3})).to_vector<double>() == std::vector<double>(6, 1.0));
  CHECK(linear(ones({5, 2, 0}), ones({3, 0})).shape() == Shape{5, 2, 3});
}

TEST_CASE("cholesky of a matrix with a NaN names the NaN element, with its batch index",
          "[repro]") {
  const Tensor a = tensor({1.0, NAN, NAN, 1.0}, {2, 2});
  check_throws<LinAlgError>([&] { cholesky(a); }, {"cholesky", "[1, 0]", "NaN"});
  Tensor batch = stack({eye(2), eye(2), a});
  check_throws<LinAlgError>([&] { cholesky(batch); }, {"cholesky", "[2, 1, 0]", "NaN"});
  check_throws<LinAlgError>([&] { logdet(batch); }, {"logdet", "[2, 1, 0]", "NaN"});
  // A NaN above the diagonal is never read, as in torch.
  CHECK_NOTHROW(cholesky(tensor({1.0, NAN, 0.0, 1.0}, {2, 2})));
}

TEST_CASE("cholesky of a matrix that is not positive definite still names the leading minor",
          "[repro]") {
  check_throws<LinAlgError>(
      [] {
        cholesky(tensor({1.0, 2.0, 2.0, 1.0}, {2, 2}));
      },
      {"cholesky", "order 2", "not positive-definite"});
}

}  // namespace
}  // namespace tether
