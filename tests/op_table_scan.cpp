// Op table: scans and layout ops (autograd/src/ops/scan.cpp). Values are 1, 2,
// 3, ... so that every expectation reads as where each element went (and, for
// the scans, what was added or multiplied).
#include "op_table.h"

namespace tether::op_table {

namespace {

/// [[1, 2, 3], [4, 5, 6]]
Tensor x23() {
  return t({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
}

const auto kRandom23 = random_inputs({{2, 3}});

/// A random line of 5 with exact zeros at 1 and 3, where cumprod's gradient
/// cannot divide by x.
Inputs with_zeros() {
  Tensor x = rnd({2, 5}).detach();
  double* values = x.data_ptr<double>();
  values[1] = values[3] = values[7] = 0.0;
  return {x.requires_grad_()};
}

}  // namespace

std::vector<OpCase> scan_cases() {
  return {
      {.op = "cumsum",
       .variant = "dim 1 of [2, 3]",
       .f = [](const Inputs& x) { return cumsum(x[0], 1); },
       .value_inputs = {x23()},
       .expected = t({1.0, 3.0, 6.0, 4.0, 9.0, 15.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "cumsum",
       .variant = "dim 0 of a transposed [3, 2]",
       .f = [](const Inputs& x) { return cumsum(transpose(x[0], 0, 1), 0); },
       .value_inputs = {x23()},
       .expected = t({1.0, 4.0, 3.0, 9.0, 6.0, 15.0}, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "cumsum",
       .variant = "dim -1 of a 0-d tensor",
       .f = [](const Inputs& x) { return cumsum(x[0], -1); },
       .value_inputs = {t({2.5}, {})},
       .expected = t({2.5}, {}),
       .grad_inputs = random_inputs({{}})},
      {.op = "cumprod",
       .variant = "dim 1 of [2, 3]",
       .f = [](const Inputs& x) { return cumprod(x[0], 1); },
       .value_inputs = {x23()},
       .expected = t({1.0, 2.0, 6.0, 4.0, 20.0, 120.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "cumprod",
       .variant = "dim 0 of a transposed [3, 2]",
       .f = [](const Inputs& x) { return cumprod(transpose(x[0], 0, 1), 0); },
       .value_inputs = {x23()},
       .expected = t({1.0, 4.0, 2.0, 20.0, 6.0, 120.0}, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "cumprod",
       .variant = "dim 1 of lines with exact zeros (one, two)",
       .f = [](const Inputs& x) { return cumprod(x[0], 1); },
       .value_inputs = {t({2.0, 0.0, 3.0, 0.0, 5.0, 1.0, 2.0, 0.0, 4.0, 1.0}, {2, 5})},
       .expected = t({2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0}, {2, 5}),
       .grad_inputs = with_zeros},
      {.op = "flip",
       .variant = "dims {0, 1} of [2, 3]",
       .f =
           [](const Inputs& x) {
             return flip(x[0], {0, 1});
           },
       .value_inputs = {x23()},
       .expected = t({6.0, 5.0, 4.0, 3.0, 2.0, 1.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "flip",
       .variant = "dim -1 of a transposed [3, 2]",
       .f = [](const Inputs& x) { return flip(transpose(x[0], 0, 1), {-1}); },
       .value_inputs = {x23()},
       .expected = t({4.0, 1.0, 5.0, 2.0, 6.0, 3.0}, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "flip",
       .variant = "no dims (a copy)",
       .f = [](const Inputs& x) { return flip(x[0], {}); },
       .value_inputs = {x23()},
       .expected = x23(),
       .grad_inputs = kRandom23},
      {.op = "roll",
       .variant = "shift 1 along dim 1",
       .f = [](const Inputs& x) { return roll(x[0], {1}, {1}); },
       .value_inputs = {x23()},
       .expected = t({3.0, 1.0, 2.0, 6.0, 4.0, 5.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "roll",
       .variant = "shifts {1, -1} along dims {0, 1}",
       .f =
           [](const Inputs& x) {
             return roll(x[0], {1, -1}, {0, 1});
           },
       .value_inputs = {x23()},
       .expected = t({5.0, 6.0, 4.0, 2.0, 3.0, 1.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "roll",
       .variant = "shift 7 wraps around a dim of 3",
       .f = [](const Inputs& x) { return roll(x[0], {7}, {-1}); },
       .value_inputs = {x23()},
       .expected = t({3.0, 1.0, 2.0, 6.0, 4.0, 5.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "roll",
       .variant = "flattened (no dims) by 2",
       .f = [](const Inputs& x) { return roll(x[0], {2}); },
       .value_inputs = {x23()},
       .expected = t({5.0, 6.0, 1.0, 2.0, 3.0, 4.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "roll",
       .variant = "a transposed [3, 2] by -1 along dim 0",
       .f = [](const Inputs& x) { return roll(transpose(x[0], 0, 1), {-1}, {0}); },
       .value_inputs = {x23()},
       .expected = t({2.0, 5.0, 3.0, 6.0, 1.0, 4.0}, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "repeat",
       .variant = "[2, 3] by {2, 1}",
       .f =
           [](const Inputs& x) {
             return repeat(x[0], {2, 1});
           },
       .value_inputs = {x23()},
       .expected = t({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {4, 3}),
       .grad_inputs = kRandom23},
      {.op = "repeat",
       .variant = "[3] by {2, 2} (a leading dim added)",
       .f =
           [](const Inputs& x) {
             return repeat(x[0], {2, 2});
           },
       .value_inputs = {t({1.0, 2.0, 3.0}, {3})},
       .expected = t({1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0}, {2, 6}),
       .grad_inputs = random_inputs({{3}})},
      {.op = "repeat",
       .variant = "a transposed [3, 2] by {1, 2}",
       .f =
           [](const Inputs& x) {
             return repeat(transpose(x[0], 0, 1), {1, 2});
           },
       .value_inputs = {x23()},
       .expected = t({1.0, 4.0, 1.0, 4.0, 2.0, 5.0, 2.0, 5.0, 3.0, 6.0, 3.0, 6.0}, {3, 4}),
       .grad_inputs = kRandom23},
      {.op = "repeat",
       .variant = "all ones (a copy)",
       .f =
           [](const Inputs& x) {
             return repeat(x[0], {1, 1});
           },
       .value_inputs = {x23()},
       .expected = x23(),
       .grad_inputs = kRandom23},
  };
}

}  // namespace tether::op_table
