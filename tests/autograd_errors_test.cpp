// User mistakes throw the matching tether::Error subclass, and the message names
// the op and the offending shapes, dtypes, devices or indices.
#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>
#include <vector>

#include "tether/tether.h"

using tether::Device;
using tether::DType;
using tether::Tensor;

namespace {

/// Matches an exception whose what() contains every one of `parts`.
class MessageContains : public Catch::MatcherBase<std::exception> {
 public:
  MessageContains(std::initializer_list<std::string> parts) : parts_(parts) {}

  bool match(const std::exception& error) const override {
    const std::string message = error.what();
    for (const auto& part : parts_)
      if (message.find(part) == std::string::npos) return false;
    return true;
  }

  std::string describe() const override {
    std::string description = "has a message containing";
    for (const auto& part : parts_) description += " \"" + part + "\"";
    return description;
  }

 private:
  std::vector<std::string> parts_;
};

Tensor floats(const tether::Shape& shape) {
  return tether::zeros(shape);
}

}  // namespace

TEST_CASE("an element-wise op on shapes that do not broadcast names the op and both shapes",
          "[errors]") {
  const Tensor a = floats({2, 3}), b = floats({4});
  REQUIRE_THROWS_MATCHES(a + b, tether::ShapeError, MessageContains({"add", "[2, 3]", "[4]"}));
  REQUIRE_THROWS_MATCHES(a * b, tether::ShapeError, MessageContains({"mul", "[2, 3]", "[4]"}));
}

TEST_CASE("mixing dtypes in a matrix product names the op and both dtypes", "[errors]") {
  const Tensor single = floats({2}), dual = tether::zeros({2}, DType::f64);
  REQUIRE_THROWS_MATCHES(single.matmul(dual), tether::DTypeError,
                         MessageContains({"matmul", "f32", "f64"}));
}

TEST_CASE("matmul and mv with different inner dimensions name the op and both shapes", "[errors]") {
  REQUIRE_THROWS_MATCHES(floats({2, 3}).matmul(floats({4, 5})), tether::ShapeError,
                         MessageContains({"matmul", "[2, 3]", "[4, 5]"}));
  REQUIRE_THROWS_MATCHES(floats({2, 3}).mv(floats({2})), tether::ShapeError,
                         MessageContains({"mv", "[2, 3]", "[2]"}));
}

TEST_CASE("an op PyTorch refuses on integers throws DTypeError for an i64 tensor", "[errors]") {
  const Tensor labels = tether::arange(4);
  REQUIRE_THROWS_MATCHES(tether::softplus(labels), tether::DTypeError,
                         MessageContains({"softplus", "i64"}));
  REQUIRE_THROWS_MATCHES(labels.mean(), tether::DTypeError, MessageContains({"mean", "i64"}));
}

TEST_CASE("indices out of range throw IndexError naming the op and the extent", "[errors]") {
  const Tensor x = floats({3, 4});
  SECTION("index_select") {
    const Tensor index = tether::tensor({0, 3}, {2}, DType::i64);
    REQUIRE_THROWS_MATCHES(x.index_select(0, index), tether::IndexError,
                           MessageContains({"index_select", "index 3", "size 3"}));
  }
  SECTION("narrow") {
    REQUIRE_THROWS_MATCHES(x.narrow(1, 2, 3), tether::IndexError,
                           MessageContains({"narrow", "start 2", "length 3", "size 4"}));
  }
  SECTION("select") {
    REQUIRE_THROWS_MATCHES(x.select(0, 3), tether::IndexError,
                           MessageContains({"select", "index 3", "size 3"}));
  }
  SECTION("a reduction over a dimension the tensor lacks") {
    REQUIRE_THROWS_MATCHES(x.sum({2}), tether::IndexError,
                           MessageContains({"sum", "dimension 2", "rank 2"}));
  }
}

TEST_CASE("a tensor on a device this build lacks throws DeviceError", "[errors]") {
  // The first CUDA device index beyond those present (cuda:0 without CUDA or a GPU).
  const Device missing = Device::cuda(tether::device_count(tether::DeviceType::cuda));
  REQUIRE_THROWS_MATCHES(tether::zeros({2}, missing), tether::DeviceError,
                         MessageContains({missing.str(), "not available"}));
  const Device further = Device::cuda(missing.index + 1);
  REQUIRE_THROWS_MATCHES(floats({2}).to(further), tether::DeviceError,
                         MessageContains({further.str(), "not available"}));
}

TEST_CASE("reshape to a different number of elements names both shapes", "[errors]") {
  REQUIRE_THROWS_MATCHES(floats({2, 3}).reshape({4}), tether::ShapeError,
                         MessageContains({"reshape", "[2, 3]", "[4]"}));
  REQUIRE_THROWS_MATCHES(floats({2, 3}).reshape({-1, -1}), tether::ShapeError,
                         MessageContains({"reshape", "-1"}));
}

TEST_CASE("view of a tensor whose strides do not allow it suggests reshape", "[errors]") {
  const Tensor transposed = floats({2, 3}).t();
  REQUIRE_THROWS_MATCHES(transposed.view({6}), tether::ShapeError,
                         MessageContains({"view", "[3, 2]", "[6]", "reshape()"}));
}

TEST_CASE("backward without a usable root throws AutogradError", "[errors]") {
  const Tensor x = tether::ones({3}).requires_grad_();
  SECTION("a non-scalar output needs an explicit gradient") {
    REQUIRE_THROWS_MATCHES((x * 2.0).backward(), tether::AutogradError,
                           MessageContains({"backward", "gradient", "[3]"}));
  }
  SECTION("an output that does not require grad") {
    REQUIRE_THROWS_MATCHES(tether::ones({1}).backward(), tether::AutogradError,
                           MessageContains({"backward", "does not require grad"}));
  }
  SECTION("an explicit gradient of the wrong shape") {
    REQUIRE_THROWS_MATCHES((x * 2.0).backward(tether::ones({2})), tether::ShapeError,
                           MessageContains({"backward", "[2]", "[3]"}));
  }
}

TEST_CASE("item on a tensor with several elements throws ValueError", "[errors]") {
  REQUIRE_THROWS_MATCHES(floats({2, 2}).item<float>(), tether::ValueError,
                         MessageContains({"item", "[2, 2]"}));
}

TEST_CASE("tensor() with the wrong number of values names the count and the shape", "[errors]") {
  REQUIRE_THROWS_MATCHES(tether::tensor({1, 2, 3}, {2, 2}), tether::ShapeError,
                         MessageContains({"tensor", "3 values", "[2, 2]"}));
}

TEST_CASE("every error is a tether::Error", "[errors]") {
  CHECK_THROWS_AS(floats({2}).item<float>(), tether::Error);
  CHECK_THROWS_AS(floats({2}).sum({5}), tether::Error);
  CHECK_THROWS_AS(floats({2}) + floats({3}), std::runtime_error);
}
