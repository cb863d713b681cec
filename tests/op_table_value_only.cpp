// Op table: ops without a gradient - comparisons (bool masks), argmax, the
// mask ops of op_table_mask.cpp - and integer (i64) arithmetic. These entries
// have no grad_inputs; the driver checks their values and dtype, and that the
// result does not require grad.
#include "op_table.h"

namespace tether::op_table {

namespace {

/// a [2, 1] = [[1], [2]] against b [3] = [1, 2, 2], broadcast to [2, 3]: every
/// comparison meets less, equal and greater.
Inputs mask_operands() {
  return {t({1.0, 2.0}, {2, 1}), t({1.0, 2.0, 2.0}, {3})};
}

/// A comparison of a with b, expected to give this [2, 3] mask.
struct MaskCase {
  std::string op;
  std::string variant;
  GradcheckFunction f;
  std::vector<double> expected;

  OpCase to_case() const {
    return {.op = op,
            .variant = variant,
            .f = f,
            .value_inputs = mask_operands(),
            .expected = t(expected, {2, 3}).to(DType::boolean)};
  }
};

std::vector<MaskCase> mask_cases() {
  return {
      {.op = "eq",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return eq(x[0], x[1]); },
       .expected = {1, 0, 0, 0, 1, 1}},
      {.op = "ne",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return ne(x[0], x[1]); },
       .expected = {0, 1, 1, 1, 0, 0}},
      {.op = "lt",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return lt(x[0], x[1]); },
       .expected = {0, 1, 1, 0, 0, 0}},
      {.op = "le",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return le(x[0], x[1]); },
       .expected = {1, 1, 1, 0, 1, 1}},
      {.op = "gt",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return gt(x[0], x[1]); },
       .expected = {0, 0, 0, 1, 0, 0}},
      {.op = "ge",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return ge(x[0], x[1]); },
       .expected = {1, 0, 0, 1, 1, 1}},
      {.op = "lt",
       .variant = "operator< on tensors",
       .f = [](const Inputs& x) { return x[0] < x[1]; },
       .expected = {0, 1, 1, 0, 0, 0}},
      {.op = "le",
       .variant = "operator<= on tensors",
       .f = [](const Inputs& x) { return x[0] <= x[1]; },
       .expected = {1, 1, 1, 0, 1, 1}},
      {.op = "gt",
       .variant = "operator> on tensors",
       .f = [](const Inputs& x) { return x[0] > x[1]; },
       .expected = {0, 0, 0, 1, 0, 0}},
      {.op = "ge",
       .variant = "operator>= on tensors",
       .f = [](const Inputs& x) { return x[0] >= x[1]; },
       .expected = {1, 0, 0, 1, 1, 1}},
  };
}

std::vector<OpCase> other_cases() {
  const Tensor around_half = t({-1.0, 0.0, 0.5, 2.0}, {4});
  const Tensor x23 = t({1.0, -2.0, 3.0, 4.0, 0.5, -1.0}, {2, 3});
  const Inputs i64_operands = {ints({1, 2}, {2, 1}), ints({10, 20, 30}, {3})};
  const Tensor i64_23 = ints({1, 2, 3, 4, 5, 6}, {2, 3});
  return {
      {.op = "lt",
       .variant = "tensor < scalar",
       .f = [](const Inputs& x) { return x[0] < 0.5; },
       .value_inputs = {around_half},
       .expected = t({1, 1, 0, 0}, {4}).to(DType::boolean)},
      {.op = "le",
       .variant = "tensor <= scalar",
       .f = [](const Inputs& x) { return x[0] <= 0.5; },
       .value_inputs = {around_half},
       .expected = t({1, 1, 1, 0}, {4}).to(DType::boolean)},
      {.op = "gt",
       .variant = "tensor > scalar",
       .f = [](const Inputs& x) { return x[0] > 0.5; },
       .value_inputs = {around_half},
       .expected = t({0, 0, 0, 1}, {4}).to(DType::boolean)},
      {.op = "ge",
       .variant = "tensor >= scalar",
       .f = [](const Inputs& x) { return x[0] >= 0.5; },
       .value_inputs = {around_half},
       .expected = t({0, 0, 1, 1}, {4}).to(DType::boolean)},
      {.op = "eq",
       .variant = "i64 operands",
       .f = [](const Inputs& x) { return eq(x[0], x[1]); },
       .value_inputs = {ints({1, 2}, {2, 1}), ints({1, 2, 2}, {3})},
       .expected = ints({1, 0, 0, 0, 1, 1}, {2, 3}).to(DType::boolean)},
      {.op = "argmax",
       .variant = "dim 1",
       .f = [](const Inputs& x) { return argmax(x[0], 1); },
       .value_inputs = {x23},
       .expected = ints({2, 0}, {2})},
      {.op = "argmax",
       .variant = "dim -2, keepdim",
       .f = [](const Inputs& x) { return argmax(x[0], -2, true); },
       .value_inputs = {x23},
       .expected = ints({1, 1, 0}, {1, 3})},
      {.op = "argmin",
       .variant = "dim 1",
       .f = [](const Inputs& x) { return argmin(x[0], 1); },
       .value_inputs = {x23},
       .expected = ints({1, 2}, {2})},
      {.op = "argmin",
       .variant = "dim -2, keepdim",
       .f = [](const Inputs& x) { return argmin(x[0], -2, true); },
       .value_inputs = {x23},
       .expected = ints({0, 0, 1}, {1, 3})},
      {.op = "argsort",
       .variant = "dim -1",
       .f = [](const Inputs& x) { return argsort(x[0]); },
       .value_inputs = {x23},
       .expected = ints({1, 0, 2, 2, 1, 0}, {2, 3})},
      {.op = "argsort",
       .variant = "dim 0, descending",
       .f = [](const Inputs& x) { return argsort(x[0], 0, true); },
       .value_inputs = {x23},
       .expected = ints({1, 1, 0, 0, 0, 1}, {2, 3})},
      {.op = "add",
       .variant = "i64, broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return add(x[0], x[1]); },
       .value_inputs = i64_operands,
       .expected = ints({11, 21, 31, 12, 22, 32}, {2, 3})},
      {.op = "sub",
       .variant = "i64, operator-",
       .f = [](const Inputs& x) { return x[0] - x[1]; },
       .value_inputs = i64_operands,
       .expected = ints({-9, -19, -29, -8, -18, -28}, {2, 3})},
      {.op = "mul",
       .variant = "i64, broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return mul(x[0], x[1]); },
       .value_inputs = i64_operands,
       .expected = ints({10, 20, 30, 20, 40, 60}, {2, 3})},
      {.op = "matmul",
       .variant = "i64 [2, 3] x [3, 2]",
       .f = [](const Inputs& x) { return matmul(x[0], x[1]); },
       .value_inputs = {i64_23, ints({1, 0, 0, 1, 1, 1}, {3, 2})},
       .expected = ints({4, 5, 10, 11}, {2, 2}),
       .on_cuda = false},
      {.op = "matmul",
       .variant = "i64 batched [2, 2, 3] x [3]",
       .f = [](const Inputs& x) { return matmul(x[0], x[1]); },
       .value_inputs = {ints({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 3}),
                        ints({1, -1, 2}, {3})},
       .expected = ints({5, 11, 17, 23}, {2, 2}),
       .on_cuda = false},
      {.op = "dot",
       .variant = "i64",
       .f = [](const Inputs& x) { return dot(x[0], x[1]); },
       .value_inputs = {ints({1, -2, 3}, {3}), ints({4, 5, 6}, {3})},
       .expected = ints({12}, {}),
       .on_cuda = false},
      {.op = "sum",
       .variant = "i64, all dims",
       .f = [](const Inputs& x) { return sum(x[0]); },
       .value_inputs = {i64_23},
       .expected = ints({21}, {})},
      {.op = "sum",
       .variant = "i64, dim 0",
       .f = [](const Inputs& x) { return sum(x[0], {0}); },
       .value_inputs = {i64_23},
       .expected = ints({5, 7, 9}, {3})},
  };
}

}  // namespace

std::vector<OpCase> value_only_cases() {
  std::vector<OpCase> cases;
  for (const auto& c : mask_cases()) cases.push_back(c.to_case());
  for (auto& c : other_cases()) cases.push_back(std::move(c));
  for (auto& c : mask_predicate_cases()) cases.push_back(std::move(c));
  return cases;
}

}  // namespace tether::op_table
