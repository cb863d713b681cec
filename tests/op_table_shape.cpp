// Op table: shape and indexing ops (autograd/src/ops/shape.cpp). Values are
// 1, 2, 3, ... so that every expectation reads as where each element went.
#include "op_table.h"

namespace tether::op_table {

namespace {

/// [[1, 2, 3], [4, 5, 6]]
Tensor x23() {
  return t({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
}
/// The same values as [2, 1, 3].
Tensor x213() {
  return t({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 1, 3});
}
/// 1, ..., 6 in row-major order, to be given any shape.
const std::vector<double> kInOrder = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0};
/// x23 read column by column (its transpose, flattened).
const std::vector<double> kColumnFirst = {1.0, 4.0, 2.0, 5.0, 3.0, 6.0};

const auto kRandom23 = random_inputs({{2, 3}});
const auto kRandom213 = random_inputs({{2, 1, 3}});

std::vector<OpCase> view_cases() {
  return {
      {.op = "reshape",
       .variant = "[2, 3] to [3, 2] (a view)",
       .f =
           [](const Inputs& x) {
             return reshape(x[0], {3, 2});
           },
       .value_inputs = {x23()},
       .expected = t(kInOrder, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "reshape",
       .variant = "[2, 3] to [-1]",
       .f = [](const Inputs& x) { return reshape(x[0], {-1}); },
       .value_inputs = {x23()},
       .expected = t(kInOrder, {6}),
       .grad_inputs = kRandom23},
      {.op = "reshape",
       .variant = "a transposed [3, 2] to [6] (a copy)",
       .f = [](const Inputs& x) { return reshape(transpose(x[0], 0, 1), {6}); },
       .value_inputs = {x23()},
       .expected = t(kColumnFirst, {6}),
       .grad_inputs = kRandom23},
      {.op = "view",
       .variant = "[2, 3] to [3, -1]",
       .f =
           [](const Inputs& x) {
             return view(x[0], {3, -1});
           },
       .value_inputs = {x23()},
       .expected = t(kInOrder, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "flatten",
       .variant = "all dims of [2, 1, 3]",
       .f = [](const Inputs& x) { return flatten(x[0]); },
       .value_inputs = {x213()},
       .expected = t(kInOrder, {6}),
       .grad_inputs = kRandom213},
      {.op = "flatten",
       .variant = "dims 0 to -2 of [2, 1, 3]",
       .f = [](const Inputs& x) { return flatten(x[0], 0, -2); },
       .value_inputs = {x213()},
       .expected = x23(),
       .grad_inputs = kRandom213},
      {.op = "transpose",
       .variant = "(0, -1) of [2, 3]",
       .f = [](const Inputs& x) { return transpose(x[0], 0, -1); },
       .value_inputs = {x23()},
       .expected = t(kColumnFirst, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "transpose",
       .variant = "(0, 2) of [2, 1, 3]",
       .f = [](const Inputs& x) { return transpose(x[0], 0, 2); },
       .value_inputs = {x213()},
       .expected = t(kColumnFirst, {3, 1, 2}),
       .grad_inputs = kRandom213},
      {.op = "permute",
       .variant = "{2, 0, 1} of [2, 1, 3]",
       .f =
           [](const Inputs& x) {
             return permute(x[0], {2, 0, 1});
           },
       .value_inputs = {x213()},
       .expected = t(kColumnFirst, {3, 2, 1}),
       .grad_inputs = kRandom213},
      {.op = "permute",
       .variant = "negative dims {-2, -1, -3} of [2, 1, 3]",
       .f =
           [](const Inputs& x) {
             return permute(x[0], {-2, -1, -3});
           },
       .value_inputs = {x213()},
       .expected = t(kColumnFirst, {1, 3, 2}),
       .grad_inputs = kRandom213},
      {.op = "squeeze",
       .variant = "all dims of [2, 1, 3]",
       .f = [](const Inputs& x) { return squeeze(x[0]); },
       .value_inputs = {x213()},
       .expected = x23(),
       .grad_inputs = kRandom213},
      {.op = "squeeze",
       .variant = "dim -2 of [2, 1, 3]",
       .f = [](const Inputs& x) { return squeeze(x[0], -2); },
       .value_inputs = {x213()},
       .expected = x23(),
       .grad_inputs = kRandom213},
      {.op = "squeeze",
       .variant = "dim 0 of extent 2 is kept",
       .f = [](const Inputs& x) { return squeeze(x[0], 0); },
       .value_inputs = {x213()},
       .expected = x213(),
       .grad_inputs = kRandom213},
      {.op = "unsqueeze",
       .variant = "dim -1 of [2, 3]",
       .f = [](const Inputs& x) { return unsqueeze(x[0], -1); },
       .value_inputs = {x23()},
       .expected = t(kInOrder, {2, 3, 1}),
       .grad_inputs = kRandom23},
      {.op = "unsqueeze",
       .variant = "dim 0 of [2, 3]",
       .f = [](const Inputs& x) { return unsqueeze(x[0], 0); },
       .value_inputs = {x23()},
       .expected = t(kInOrder, {1, 2, 3}),
       .grad_inputs = kRandom23},
      {.op = "expand",
       .variant = "[2, 1] to [3, -1, 2]",
       .f =
           [](const Inputs& x) {
             return expand(x[0], {3, -1, 2});
           },
       .value_inputs = {t({1.0, 2.0}, {2, 1})},
       .expected = t({1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0}, {3, 2, 2}),
       .grad_inputs = random_inputs({{2, 1}})},
      {.op = "contiguous",
       .variant = "of a transposed [3, 2]",
       .f = [](const Inputs& x) { return contiguous(transpose(x[0], 0, 1)); },
       .value_inputs = {x23()},
       .expected = t(kColumnFirst, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "clone",
       .variant = "[2, 3]",
       .f = [](const Inputs& x) { return clone(x[0]); },
       .value_inputs = {x23()},
       .expected = x23(),
       .grad_inputs = kRandom23},
      {.op = "to",
       .variant = "f64 through f32 and back",
       .f = [](const Inputs& x) { return to(to(x[0], DType::f32), DType::f64); },
       .value_inputs = {t({0.5, -1.25, 2.0, 3.0, 4.75, -6.0}, {2, 3})},
       .expected = t({0.5, -1.25, 2.0, 3.0, 4.75, -6.0}, {2, 3}),
       .grad_inputs = kRandom23,
       // Rounding to f32 (~1e-7) needs a wide finite-difference step.
       .tolerance = {.eps = 1e-2}},
  };
}

std::vector<OpCase> indexing_cases() {
  return {
      {.op = "narrow",
       .variant = "dim -1, start 1, length 2",
       .f = [](const Inputs& x) { return narrow(x[0], -1, 1, 2); },
       .value_inputs = {x23()},
       .expected = t({2.0, 3.0, 5.0, 6.0}, {2, 2}),
       .grad_inputs = kRandom23},
      {.op = "narrow",
       .variant = "dim 0, negative start -1",
       .f = [](const Inputs& x) { return narrow(x[0], 0, -1, 1); },
       .value_inputs = {x23()},
       .expected = t({4.0, 5.0, 6.0}, {1, 3}),
       .grad_inputs = kRandom23},
      {.op = "slice",
       .variant = "dim 1, step 2",
       .f = [](const Inputs& x) { return slice(x[0], 1, 0, 3, 2); },
       .value_inputs = {x23()},
       .expected = t({1.0, 3.0, 4.0, 6.0}, {2, 2}),
       .grad_inputs = kRandom23},
      {.op = "slice",
       .variant = "dim -1, negative start, end past the extent",
       .f = [](const Inputs& x) { return slice(x[0], -1, -2, 10); },
       .value_inputs = {x23()},
       .expected = t({2.0, 3.0, 5.0, 6.0}, {2, 2}),
       .grad_inputs = kRandom23},
      {.op = "slice",
       .variant = "[5] from 1 with step 3",
       .f = [](const Inputs& x) { return slice(x[0], 0, 1, 5, 3); },
       .value_inputs = {t({1.0, 2.0, 3.0, 4.0, 5.0}, {5})},
       .expected = t({2.0, 5.0}, {2}),
       .grad_inputs = random_inputs({{5}})},
      {.op = "select",
       .variant = "dim 0, index -1",
       .f = [](const Inputs& x) { return select(x[0], 0, -1); },
       .value_inputs = {x23()},
       .expected = t({4.0, 5.0, 6.0}, {3}),
       .grad_inputs = kRandom23},
      {.op = "select",
       .variant = "dim 1, index 1",
       .f = [](const Inputs& x) { return select(x[0], 1, 1); },
       .value_inputs = {x23()},
       .expected = t({2.0, 5.0}, {2}),
       .grad_inputs = kRandom23},
      {.op = "cat",
       .variant = "dim 0 of [1, 3] and [2, 3]",
       .f = [](const Inputs& x) { return cat(x, 0); },
       .value_inputs = {t({7.0, 8.0, 9.0}, {1, 3}), x23()},
       .expected = t({7.0, 8.0, 9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {3, 3}),
       .grad_inputs = random_inputs({{1, 3}, {2, 3}})},
      {.op = "cat",
       .variant = "dim -1 of [2, 1], [2, 2] and [2, 1]",
       .f = [](const Inputs& x) { return cat(x, -1); },
       .value_inputs = {t({1.0, 2.0}, {2, 1}), t({3.0, 4.0, 5.0, 6.0}, {2, 2}),
                        t({7.0, 8.0}, {2, 1})},
       .expected = t({1.0, 3.0, 4.0, 7.0, 2.0, 5.0, 6.0, 8.0}, {2, 4}),
       .grad_inputs = random_inputs({{2, 1}, {2, 2}, {2, 1}})},
      {.op = "stack",
       .variant = "dim 0 of two [3]",
       .f = [](const Inputs& x) { return stack(x, 0); },
       .value_inputs = {t({1.0, 2.0, 3.0}, {3}), t({4.0, 5.0, 6.0}, {3})},
       .expected = x23(),
       .grad_inputs = random_inputs({{3}, {3}})},
      {.op = "stack",
       .variant = "dim -1 of two [3]",
       .f = [](const Inputs& x) { return stack(x, -1); },
       .value_inputs = {t({1.0, 2.0, 3.0}, {3}), t({4.0, 5.0, 6.0}, {3})},
       .expected = t(kColumnFirst, {3, 2}),
       .grad_inputs = random_inputs({{3}, {3}})},
      {.op = "index_select",
       .variant = "dim 0, repeated rows {1, 0, 1}",
       .f =
           [](const Inputs& x) {
             return index_select(x[0], 0, ints({1, 0, 1}, {3}));
           },
       .value_inputs = {x23()},
       .expected = t({4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {3, 3}),
       .grad_inputs = kRandom23},
      {.op = "index_select",
       .variant = "dim -1, {2, 0}",
       .f =
           [](const Inputs& x) {
             return index_select(x[0], -1, ints({2, 0}, {2}));
           },
       .value_inputs = {x23()},
       .expected = t({3.0, 1.0, 6.0, 4.0}, {2, 2}),
       .grad_inputs = kRandom23},
      {.op = "gather",
       .variant = "dim 1, index [[2, 0], [1, 1]]",
       .f =
           [](const Inputs& x) {
             return gather(x[0], 1, ints({2, 0, 1, 1}, {2, 2}));
           },
       .value_inputs = {x23()},
       .expected = t({3.0, 1.0, 5.0, 5.0}, {2, 2}),
       .grad_inputs = kRandom23},
      {.op = "gather",
       .variant = "dim -2, index [[1, 0, 1]]",
       .f =
           [](const Inputs& x) {
             return gather(x[0], -2, ints({1, 0, 1}, {1, 3}));
           },
       .value_inputs = {x23()},
       .expected = t({4.0, 2.0, 6.0}, {1, 3}),
       .grad_inputs = kRandom23},
  };
}

}  // namespace

std::vector<OpCase> shape_cases() {
  std::vector<OpCase> cases = view_cases();
  for (auto& c : indexing_cases()) cases.push_back(std::move(c));
  return cases;
}

}  // namespace tether::op_table
