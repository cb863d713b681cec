// What the op table's entries cannot show for scans, layout ops and einsum:
// the errors (each naming its op) and tensors whose extents are huge but
// which hold no elements.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <string>

using namespace tether;

namespace {

constexpr std::int64_t kHuge = std::int64_t{1} << 62;

/// The message of the tether::Error of type E that f throws.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("no error thrown");
  return {};
}

}  // namespace

TEST_CASE(
    "einsum names itself for a malformed equation, a wrong operand count or sizes that differ",
    "[ops][einsum]") {
  const Tensor a = randn({2, 3}), b = randn({4, 5});
  using Catch::Matchers::StartsWith;
  CHECK_THAT(message_of<ValueError>([&] { einsum("ij,jk->ik", {a}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ValueError>([&] { einsum("i#->i", {a}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ValueError>([&] { einsum("ij->ii", {a}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ValueError>([&] { einsum("ij->k", {a}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ValueError>([&] { einsum("i.j->ij", {a}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ValueError>([&] { einsum("ij", {}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ShapeError>([&] { einsum("ijk->i", {a}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ShapeError>([&] { einsum("ii->i", {a}); }), StartsWith("einsum:"));
  CHECK_THAT(message_of<ShapeError>([&] {
               einsum("ij,jk->ik", {a, b});
             }),
             StartsWith("einsum: subscript j"));
  CHECK_THAT(message_of<DTypeError>([&] {
               einsum("ij,jk->ik", {a, b.to(DType::f64)});
             }),
             StartsWith("einsum:"));
}

TEST_CASE("scans and layout ops name themselves for bad dims, shifts and repeats", "[ops][scan]") {
  const Tensor x = randn({2, 3});
  using Catch::Matchers::StartsWith;
  CHECK_THAT(message_of<IndexError>([&] { cumsum(x, 2); }), StartsWith("cumsum:"));
  CHECK_THAT(message_of<IndexError>([&] { cumprod(scalar_tensor(1.0), 1); }),
             StartsWith("cumprod:"));
  CHECK_THAT(message_of<ValueError>([&] { flip(x, {0, -2}); }), StartsWith("flip:"));
  CHECK_THAT(message_of<ValueError>([&] { roll(x, {1, 2}, {0}); }), StartsWith("roll:"));
  CHECK_THAT(message_of<ValueError>([&] { roll(x, {1, 2}); }), StartsWith("roll:"));
  CHECK_THAT(message_of<IndexError>([&] { roll(scalar_tensor(1.0), {1}, {0}); }),
             StartsWith("roll:"));
  CHECK_THAT(message_of<ShapeError>([&] { repeat(x, {2}); }), StartsWith("repeat:"));
  CHECK_THAT(message_of<ValueError>([&] { repeat(x, {1, -1}); }), StartsWith("repeat:"));
  CHECK_THAT(message_of<ShapeError>([&] { repeat(x, {kHuge, 4}); }), StartsWith("repeat:"));
  CHECK_THAT(message_of<ShapeError>([&] { bmm(x, x); }), StartsWith("bmm:"));
  CHECK_THAT(message_of<ShapeError>([&] {
               baddbmm(randn({2, 2, 2, 2}), randn({2, 2, 3}), randn({2, 3, 2}));
             }),
             StartsWith("baddbmm:"));
}

TEST_CASE("flip, roll, repeat, cumsum and cumprod of a [0, 2^62] tensor allocate nothing",
          "[ops][scan]") {
  const Tensor x = zeros({0, kHuge}).requires_grad_();
  CHECK(flip(x, {0, 1}).shape() == Shape{0, kHuge});
  CHECK(roll(x, {3}, {1}).shape() == Shape{0, kHuge});
  CHECK(repeat(x, {2, 1}).shape() == Shape{0, kHuge});
  const Tensor y = cumprod(x, 1);
  CHECK(y.shape() == Shape{0, kHuge});
  const auto grads = autograd::grad({sum(y)}, {x}, {}, std::nullopt, true);
  CHECK(grads[0].shape() == Shape{0, kHuge});
  CHECK(cumsum(x, 1).shape() == Shape{0, kHuge});
}

TEST_CASE("roll takes a dim named twice as the sum of its shifts, as torch.roll", "[ops][scan]") {
  const Tensor x = arange(4, DType::f64);
  CHECK(roll(x, {1, 2}, {0, 0}).to_vector<double>() == std::vector<double>{1, 2, 3, 0});
}
