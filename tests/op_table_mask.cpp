// Op table: the mask ops (ops.h's section "masks"). masked_fill and
// masked_select carry gradients; the predicates (isnan, the logical ops) and
// any/all give bool tensors without one. Masks are built inside `f` from
// explicit values, so that every entry states which elements they pick.
#include <cmath>

#include "op_table.h"

namespace tether::op_table {

namespace {

/// An explicit bool tensor on table_device(): bools({1, 0}, {2}).
Tensor bools(const std::vector<double>& values, const Shape& shape) {
  return ints(values, shape).to(DType::boolean);
}

/// The [2, 3] mask of the differentiable entries: rows [1, 0, 1] and [0, 0, 1].
Tensor mask23() {
  return bools({1, 0, 1, 0, 0, 1}, {2, 3});
}

const Tensor x23() {
  return t({1, -2, 3, 4, 0.5, -1}, {2, 3});
}

}  // namespace

std::vector<OpCase> mask_op_cases() {
  return {
      {.op = "masked_fill",
       .variant = "scalar value, [2, 3] mask",
       .f = [](const Inputs& x) { return masked_fill(x[0], mask23(), -7); },
       .value_inputs = {x23()},
       .expected = t({-7, -2, -7, 4, 0.5, -7}, {2, 3}),
       .grad_inputs = random_inputs({{2, 3}})},
      {.op = "masked_fill",
       .variant = "0-d tensor value, mask [3] broadcast over rows",
       .f =
           [](const Inputs& x) {
             return x[0].masked_fill(bools({0, 1, 0}, {3}), x[1]);
           },
       .value_inputs = {x23(), t({2}, {})},
       .expected = t({1, 2, 3, 4, 2, -1}, {2, 3}),
       .grad_inputs = random_inputs({{2, 3}, {}})},
      {.op = "masked_select",
       .variant = "[2, 3] mask",
       .f = [](const Inputs& x) { return masked_select(x[0], mask23()); },
       .value_inputs = {x23()},
       .expected = t({1, 3, -1}, {3}),
       .grad_inputs = random_inputs({{2, 3}})},
      {.op = "masked_select",
       .variant = "x [3] broadcast against a mask [2, 3]",
       .f =
           [](const Inputs& x) {
             return x[0].masked_select(bools({1, 1, 0, 0, 1, 1}, {2, 3}));
           },
       .value_inputs = {t({1, 2, 3}, {3})},
       .expected = t({1, 2, 2, 3}, {4}),
       .grad_inputs = random_inputs({{3}})},
  };
}

std::vector<OpCase> mask_predicate_cases() {
  const Tensor special = t({1, NAN, INFINITY, -INFINITY, 0, -2.5}, {2, 3});
  // a [2, 1] against b [3], broadcast to [2, 3]: every pair of truth values.
  const Inputs truth_operands = {t({0, 2}, {2, 1}), t({0, -1, 0.5}, {3})};
  // The same as masks, [2, 1] with [3]: the operators take bool tensors only.
  const Inputs masks = {bools({0, 1}, {2, 1}), bools({0, 1, 0}, {3})};
  const Tensor rows = t({0, 0, 0, 0, 3, 0}, {2, 3});
  return {
      {.op = "isnan",
       .variant = "nan and infinities",
       .f = [](const Inputs& x) { return isnan(x[0]); },
       .value_inputs = {special},
       .expected = bools({0, 1, 0, 0, 0, 0}, {2, 3})},
      {.op = "isinf",
       .variant = "nan and infinities, method",
       .f = [](const Inputs& x) { return x[0].isinf(); },
       .value_inputs = {special},
       .expected = bools({0, 0, 1, 1, 0, 0}, {2, 3})},
      {.op = "isfinite",
       .variant = "nan and infinities",
       .f = [](const Inputs& x) { return isfinite(x[0]); },
       .value_inputs = {special},
       .expected = bools({1, 0, 0, 0, 1, 1}, {2, 3})},
      {.op = "isfinite",
       .variant = "i64: every element",
       .f = [](const Inputs& x) { return isfinite(x[0]); },
       .value_inputs = {ints({1, -3}, {2})},
       .expected = bools({1, 1}, {2})},
      {.op = "logical_not",
       .variant = "of f64: zero alone is false",
       .f = [](const Inputs& x) { return logical_not(x[0]); },
       .value_inputs = {special},
       .expected = bools({0, 0, 0, 0, 1, 0}, {2, 3})},
      {.op = "logical_and",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return logical_and(x[0], x[1]); },
       .value_inputs = truth_operands,
       .expected = bools({0, 0, 0, 0, 1, 1}, {2, 3})},
      {.op = "logical_or",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return logical_or(x[0], x[1]); },
       .value_inputs = truth_operands,
       .expected = bools({0, 1, 1, 1, 1, 1}, {2, 3})},
      {.op = "logical_xor",
       .variant = "broadcast [2, 1] with [3]",
       .f = [](const Inputs& x) { return logical_xor(x[0], x[1]); },
       .value_inputs = truth_operands,
       .expected = bools({0, 1, 1, 1, 0, 0}, {2, 3})},
      {.op = "logical_and",
       .variant = "operator& on masks",
       .f = [](const Inputs& x) { return x[0] & x[1]; },
       .value_inputs = masks,
       .expected = bools({0, 0, 0, 0, 1, 0}, {2, 3})},
      {.op = "logical_or",
       .variant = "operator| on masks",
       .f = [](const Inputs& x) { return x[0] | x[1]; },
       .value_inputs = masks,
       .expected = bools({0, 1, 0, 1, 1, 1}, {2, 3})},
      {.op = "logical_xor",
       .variant = "operator^ on masks",
       .f = [](const Inputs& x) { return x[0] ^ x[1]; },
       .value_inputs = masks,
       .expected = bools({0, 1, 0, 1, 0, 1}, {2, 3})},
      {.op = "logical_not",
       .variant = "operator~ on a mask",
       .f = [](const Inputs& x) { return ~x[0]; },
       .value_inputs = {bools({0, 0, 0, 0, 1, 0}, {2, 3})},
       .expected = bools({1, 1, 1, 1, 0, 1}, {2, 3})},
      {.op = "any",
       .variant = "all dims",
       .f = [](const Inputs& x) { return any(x[0]); },
       .value_inputs = {rows},
       .expected = bools({1}, {})},
      {.op = "any",
       .variant = "dim 1",
       .f = [](const Inputs& x) { return x[0].any({1}); },
       .value_inputs = {rows},
       .expected = bools({0, 1}, {2})},
      {.op = "any",
       .variant = "of no elements",
       .f = [](const Inputs& x) { return any(x[0], {1}); },
       .value_inputs = {t({}, {2, 0})},
       .expected = bools({0, 0}, {2})},
      {.op = "all",
       .variant = "all dims",
       .f = [](const Inputs& x) { return all(x[0]); },
       .value_inputs = {special},
       .expected = bools({0}, {})},
      {.op = "all",
       .variant = "dim 0, keepdim",
       .f = [](const Inputs& x) { return x[0].all({0}, true); },
       .value_inputs = {special},
       .expected = bools({1, 0, 1}, {1, 3})},
      {.op = "all",
       .variant = "of no elements",
       .f = [](const Inputs& x) { return all(x[0], {0}); },
       .value_inputs = {t({}, {0, 3})},
       .expected = bools({1, 1, 1}, {3})},
  };
}

}  // namespace tether::op_table
