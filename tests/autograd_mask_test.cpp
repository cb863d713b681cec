// The bool dtype and the mask ops, as PyTorch's: what comparisons return, how
// masks promote and convert, which ops take them and which refuse them by name.
// Values and gradients of the mask ops are in the op table (op_table_mask.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>

#include "scratch_directory.h"
#include "tether/nn/checkpoint.h"
#include "tether/tether.h"

namespace {

using namespace tether;
using Catch::Matchers::Contains;

Tensor mask(const std::vector<double>& values) {
  return tensor(values, DType::boolean);
}

std::vector<std::int64_t> flags(const Tensor& x) {
  return x.to_vector<std::int64_t>();
}

}  // namespace

TEST_CASE("bool is a one-byte dtype named bool that promotes below i64", "[mask]") {
  CHECK(element_size(DType::boolean) == 1);
  CHECK(name(DType::boolean) == "bool");
  CHECK_FALSE(is_floating(DType::boolean));
  CHECK(promote_types(DType::boolean, DType::i64) == DType::i64);
  CHECK(promote_types(DType::f32, DType::boolean) == DType::f32);
  CHECK(can_cast(DType::boolean, DType::i64));
  CHECK_FALSE(can_cast(DType::i64, DType::boolean));
  CHECK_FALSE(can_cast(DType::f64, DType::boolean));
}

TEST_CASE("comparisons and isnan return bool tensors", "[mask]") {
  const Tensor x = tensor({1.0, NAN, 3.0});
  CHECK((x > 2.0).dtype() == DType::boolean);
  CHECK(eq(x, x).dtype() == DType::boolean);
  CHECK(ne(arange(3), arange(3)).dtype() == DType::boolean);
  CHECK(flags(isnan(x)) == std::vector<std::int64_t>{0, 1, 0});
  CHECK(x.isnan().dtype() == DType::boolean);
}

TEST_CASE("to(bool) makes every nonzero value true, NaN included, and back gives 0 and 1",
          "[mask]") {
  const Tensor m = tensor({0.0, -0.5, NAN, INFINITY, -0.0}).to(DType::boolean);
  CHECK(flags(m) == std::vector<std::int64_t>{0, 1, 1, 1, 0});
  CHECK(m.to(DType::f64).to_vector<double>() == std::vector<double>{0, 1, 1, 1, 0});
  CHECK(flags(tensor({0, 7, -3}, DType::i64).to(DType::boolean)) ==
        std::vector<std::int64_t>{0, 1, 1});
  CHECK(scalar_tensor(0.25).to(DType::boolean).item<bool>());
  CHECK_FALSE(scalar_tensor(0.0, DType::boolean).item<bool>());
}

TEST_CASE("a mask in arithmetic promotes as in PyTorch", "[mask]") {
  const Tensor m = mask({1, 0, 1});
  const Tensor x = tensor({2.0, 3.0, 4.0}, DType::f64);
  CHECK((m * x).dtype() == DType::f64);
  CHECK((m * x).to_vector<double>() == std::vector<double>{2, 0, 4});
  CHECK((m * 2).dtype() == DType::i64);
  CHECK((m * 0.5).dtype() == DType::f32);
  CHECK(sum(m).dtype() == DType::i64);
  CHECK(sum(m).item<std::int64_t>() == 2);
  CHECK((m / m).dtype() == DType::f32);
  SECTION("two masks add as or and multiply as and") {
    const Tensor n = mask({1, 1, 0});
    CHECK((m + n).dtype() == DType::boolean);
    CHECK(flags(m + n) == std::vector<std::int64_t>{1, 1, 1});
    CHECK(flags(m * n) == std::vector<std::int64_t>{1, 0, 0});
    CHECK(flags(maximum(m, n)) == std::vector<std::int64_t>{1, 1, 1});
  }
}

TEST_CASE("neg, abs, relu, argmax and subtraction of a mask throw a DTypeError naming the op",
          "[mask]") {
  const Tensor m = mask({1, 0});
  CHECK_THROWS_WITH(-m, Contains("neg") && Contains("bool"));
  CHECK_THROWS_WITH(abs(m), Contains("abs") && Contains("bool"));
  CHECK_THROWS_WITH(relu(m), Contains("relu") && Contains("bool"));
  CHECK_THROWS_WITH(argmax(m, 0), Contains("argmax") && Contains("bool"));
  CHECK_THROWS_AS(m - m, DTypeError);
  CHECK_THROWS_WITH(1.0 - m, Contains("sub") && Contains("bool"));
  CHECK_THROWS_WITH(m - tensor({1.0, 2.0}), Contains("sub"));
  CHECK_THROWS_WITH(pow(m, m), Contains("pow") && Contains("bool"));
  CHECK_THROWS_AS(mean(m), DTypeError);
}

TEST_CASE("sign and amax of a mask are masks, exp of one is f32", "[mask]") {
  const Tensor m = mask({1, 0});
  CHECK(sign(m).dtype() == DType::boolean);
  CHECK(flags(sign(m)) == std::vector<std::int64_t>{1, 0});
  CHECK(amax(m).dtype() == DType::boolean);
  CHECK(amax(m).item<bool>());
  CHECK(exp(m).dtype() == DType::f32);
}

TEST_CASE("where takes a bool condition and refuses a numeric one by name", "[mask]") {
  const Tensor a = tensor({1.0, 2.0}), b = tensor({-1.0, -2.0});
  CHECK(where(mask({0, 1}), a, b).to_vector<double>() == std::vector<double>{-1, 2});
  CHECK_THROWS_AS(where(tensor({0.0, 1.0}), a, b), DTypeError);
  CHECK_THROWS_WITH(where(tensor({0.0, 1.0}), a, b),
                    Contains("where") && Contains("bool condition") && Contains("f32"));
  SECTION("masks as branches give a mask") {
    CHECK(where(mask({0, 1}), mask({1, 1}), mask({0, 0})).dtype() == DType::boolean);
  }
}

TEST_CASE("in-place add_ and mul_ of masks are or and and; sub_ and a promoting add_ throw",
          "[mask]") {
  NoGradGuard no_grad;
  Tensor m = mask({1, 0, 0});
  m.add_(mask({0, 1, 0}));
  CHECK(flags(m) == std::vector<std::int64_t>{1, 1, 0});
  m.mul_(mask({1, 0, 1}));
  CHECK(flags(m) == std::vector<std::int64_t>{1, 0, 0});
  CHECK_THROWS_AS(m.sub_(mask({1, 1, 1})), DTypeError);
  CHECK_THROWS_WITH(m.add_(tensor({1, 1, 1}, DType::i64)), Contains("add_") && Contains("bool"));
  CHECK_THROWS_AS(m.add_(2), DTypeError);
}

TEST_CASE(
    "masked_fill keeps x's dtype and refuses a numeric mask, a mask that does not "
    "broadcast to x, and a value with dims",
    "[mask]") {
  const Tensor x = arange(4).reshape({2, 2});
  const Tensor filled = x.masked_fill(mask({1, 0}), 9);
  CHECK(filled.dtype() == DType::i64);
  CHECK(flags(filled) == std::vector<std::int64_t>{9, 1, 9, 3});
  CHECK_THROWS_WITH(x.masked_fill(tensor({1.0, 0.0}), 9),
                    Contains("masked_fill") && Contains("bool mask"));
  CHECK_THROWS_WITH(masked_fill(tensor({1.0, 2.0}), mask({1, 0, 1, 0}).reshape({2, 2}), 0),
                    Contains("masked_fill") && Contains("does not broadcast"));
  CHECK_THROWS_WITH(x.masked_fill(mask({1, 0}), tensor({1.0})),
                    Contains("masked_fill") && Contains("0-d value"));
}

TEST_CASE(
    "masked_fill with -inf before softmax masks attention scores, and the gradient "
    "reaches only the kept scores",
    "[mask]") {
  const Tensor scores = tensor({0.5, 1.0, -0.5, 2.0}, {2, 2}, DType::f64).requires_grad_();
  const Tensor causal = ones({2, 2}, DType::boolean).triu(1);
  const Tensor p = softmax(scores.masked_fill(causal, -INFINITY), -1);
  CHECK(p.to_vector<double>()[1] == 0.0);
  p.select(1, 0).sum().backward();
  CHECK(scores.grad().to_vector<double>()[1] == 0.0);
}

TEST_CASE("masked_select of an empty or all-false mask is an empty 1-d tensor", "[mask]") {
  const Tensor x = tensor({1.0, 2.0, 3.0});
  CHECK(x.masked_select(mask({0, 0, 0})).shape() == Shape{0});
  CHECK(masked_select(zeros({0, 3}), mask({1, 0, 1})).shape() == Shape{0});
  CHECK_THROWS_WITH(x.masked_select(tensor({1.0, 0.0, 1.0})),
                    Contains("masked_select") && Contains("bool mask"));
}

TEST_CASE("any and all reduce any dtype's truth values over dims, keepdim as sum", "[mask]") {
  const Tensor x = tensor({0.0, 0.0, 0.5, 0.0}, {2, 2});
  CHECK(any(x).item<bool>());
  CHECK_FALSE(all(x).item<bool>());
  CHECK(flags(x.any({0})) == std::vector<std::int64_t>{1, 0});
  CHECK(x.all({1}, true).shape() == Shape{2, 1});
  CHECK(all(zeros({0})).item<bool>());
  CHECK_FALSE(any(zeros({0}, DType::i64)).item<bool>());
}

TEST_CASE("the operators & | ^ ~ take bool tensors and refuse others by name", "[mask]") {
  const Tensor a = mask({1, 1, 0}), b = mask({1, 0, 0});
  CHECK(flags(a & b) == std::vector<std::int64_t>{1, 0, 0});
  CHECK(flags(a | b) == std::vector<std::int64_t>{1, 1, 0});
  CHECK(flags(a ^ b) == std::vector<std::int64_t>{0, 1, 0});
  CHECK(flags(~a) == std::vector<std::int64_t>{0, 0, 1});
  CHECK_THROWS_WITH(~tensor({1.0}), Contains("logical_not: operator~") && Contains("bool"));
  CHECK_THROWS_AS(a & tensor({1, 0, 0}, DType::i64), DTypeError);
}

TEST_CASE("a bool tensor cannot require grad", "[mask]") {
  CHECK_THROWS_AS(mask({1}).requires_grad_(), DTypeError);
}

TEST_CASE("bool tensors print True and False", "[mask]") {
  std::ostringstream os;
  os << mask({1, 0});
  CHECK(os.str() == "tensor([ True, False], dtype=bool)");
}

TEST_CASE(
    "masks go through the copy and index ops: cat, stack, index_select, gather, "
    "narrow, transpose",
    "[mask]") {
  const Tensor m = mask({1, 0, 0, 1}).reshape({2, 2});
  CHECK(cat({m, m}).dtype() == DType::boolean);
  CHECK(stack({m, m}).shape() == Shape{2, 2, 2});
  CHECK(flags(m.t().contiguous()) == std::vector<std::int64_t>{1, 0, 0, 1});
  CHECK(flags(m.index_select(1, tensor({1, 1}, DType::i64))) ==
        std::vector<std::int64_t>{0, 0, 1, 1});
  CHECK(flags(m.gather(1, tensor({1, 0, 1, 1}, {2, 2}, DType::i64))) ==
        std::vector<std::int64_t>{0, 1, 1, 1});
  CHECK(flags(m.narrow(0, 1, 1)) == std::vector<std::int64_t>{0, 1});
  CHECK(flags(cat({m, arange(2).reshape({1, 2})})) == std::vector<std::int64_t>{1, 0, 0, 1, 0, 1});
}

TEST_CASE("a bool tensor round-trips through safetensors as BOOL", "[mask][checkpoint]") {
  const testing::ScratchDirectory dir("tether-mask-checkpoint");
  const Tensor m = mask({1, 0, 1});
  nn::save_safetensors(dir / "m.safetensors", {{"mask", m}});
  const Tensor loaded = nn::load_safetensors(dir / "m.safetensors").at("mask");
  CHECK(loaded.dtype() == DType::boolean);
  CHECK(flags(loaded) == flags(m));
}

TEST_CASE("a BOOL tensor holding a byte other than 0 and 1 is a CheckpointError naming it",
          "[mask][checkpoint]") {
  const std::string header = R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  bytes += header;
  bytes += std::string{'\1', '\2'};
  CHECK_THROWS_WITH(nn::parse_safetensors(bytes, "bad.safetensors"),
                    Contains("BOOL element 1") && Contains("byte 2"));
}
