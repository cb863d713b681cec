// Op table: matrix products (autograd/src/ops/linalg.cpp). matmul is checked
// in every rank combination torch.matmul accepts, with broadcast batch dims
// and transposed operands; mm, mv, dot and outer once each. Then
// matrix_exp (matrix_functions.cpp) against closed forms, with norms that
// take no squaring and many.
#include <cmath>

#include "op_table.h"

namespace tether::op_table {

namespace {

/// [[1, 2, 3], [4, 5, 6]]
Tensor a23() {
  return t({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
}
/// [[1, 0], [0, 1], [1, 1]]; a23 @ b32 = [[4, 5], [10, 11]].
Tensor b32() {
  return t({1.0, 0.0, 0.0, 1.0, 1.0, 1.0}, {3, 2});
}
/// Two batches: [[1, 2], [3, 4]] and the identity.
Tensor batch_a() {
  return t({1.0, 2.0, 3.0, 4.0, 1.0, 0.0, 0.0, 1.0}, {2, 2, 2});
}
/// [[1, 1], [0, 1]]
Tensor upper22() {
  return t({1.0, 1.0, 0.0, 1.0}, {2, 2});
}

const GradcheckFunction kMatmul = [](const Inputs& x) { return matmul(x[0], x[1]); };

/// The generator of plane rotations, [[0, -angle], [angle, 0]].
std::vector<double> rotation_generator(double angle) {
  return {0.0, -angle, angle, 0.0};
}
/// Its exponential, the rotation by `angle`.
std::vector<double> rotation(double angle) {
  return {std::cos(angle), -std::sin(angle), std::sin(angle), std::cos(angle)};
}

/// matrix_exp(scale * x[0]): the scale sets the norm, and so the number of squarings.
GradcheckFunction matrix_exp_scaled(double scale) {
  return [scale](const Inputs& x) { return matrix_exp(x[0] * scale); };
}

}  // namespace

std::vector<OpCase> linalg_cases() {
  return {
      {.op = "matmul",
       .variant = "vector . vector",
       .f = kMatmul,
       .value_inputs = {t({1.0, 2.0, 3.0}, {3}), t({4.0, 5.0, 6.0}, {3})},
       .expected = t({32.0}, {}),
       .grad_inputs = random_inputs({{3}, {3}})},
      {.op = "matmul",
       .variant = "matrix . vector",
       .f = kMatmul,
       .value_inputs = {a23(), t({1.0, 0.0, -1.0}, {3})},
       .expected = t({-2.0, -2.0}, {2}),
       .grad_inputs = random_inputs({{2, 3}, {3}})},
      {.op = "matmul",
       .variant = "vector . matrix",
       .f = kMatmul,
       .value_inputs = {t({1.0, -1.0}, {2}), a23()},
       .expected = t({-3.0, -3.0, -3.0}, {3}),
       .grad_inputs = random_inputs({{2}, {2, 3}})},
      {.op = "matmul",
       .variant = "matrix . matrix",
       .f = kMatmul,
       .value_inputs = {a23(), b32()},
       .expected = t({4.0, 5.0, 10.0, 11.0}, {2, 2}),
       .grad_inputs = random_inputs({{2, 3}, {3, 2}})},
      {.op = "matmul",
       .variant = "transposed (non-contiguous) operands",
       .f = [](const Inputs& x) { return matmul(transpose(x[0], 0, 1), transpose(x[1], 0, 1)); },
       .value_inputs = {t({1.0, 4.0, 2.0, 5.0, 3.0, 6.0}, {3, 2}),
                        t({1.0, 0.0, 1.0, 0.0, 1.0, 1.0}, {2, 3})},
       .expected = t({4.0, 5.0, 10.0, 11.0}, {2, 2}),
       .grad_inputs = random_inputs({{3, 2}, {2, 3}})},
      {.op = "matmul",
       .variant = "batched [2, 2, 2] . [2, 2, 2]",
       .f = kMatmul,
       .value_inputs = {batch_a(), t({1.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0}, {2, 2, 2})},
       .expected = t({1.0, 3.0, 3.0, 7.0, 2.0, 0.0, 0.0, 2.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 2, 3}, {2, 3, 2}})},
      {.op = "matmul",
       .variant = "batched [2, 2, 2] . [2, 2] (broadcast batch)",
       .f = kMatmul,
       .value_inputs = {batch_a(), upper22()},
       .expected = t({1.0, 3.0, 3.0, 7.0, 1.0, 1.0, 0.0, 1.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 2, 3}, {3, 2}})},
      {.op = "matmul",
       .variant = "[2, 2] . batched [2, 2, 2] (broadcast batch)",
       .f = kMatmul,
       .value_inputs = {upper22(), batch_a()},
       .expected = t({4.0, 6.0, 3.0, 4.0, 1.0, 1.0, 0.0, 1.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 3}, {2, 3, 2}})},
      {.op = "matmul",
       .variant = "vector [2] . batched [2, 2, 2]",
       .f = kMatmul,
       .value_inputs = {t({1.0, -1.0}, {2}), batch_a()},
       .expected = t({-2.0, -2.0, 1.0, -1.0}, {2, 2}),
       .grad_inputs = random_inputs({{2}, {2, 2, 3}})},
      // Values: rows [1, 2] and [3, 4] times the identity, a swap and all-ones.
      {.op = "matmul",
       .variant = "4-d broadcast batch [2, 1, n, k] . [3, k, m]",
       .f = kMatmul,
       .value_inputs = {t({1.0, 2.0, 3.0, 4.0}, {2, 1, 1, 2}),
                        t({1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0}, {3, 2, 2})},
       .expected = t({1.0, 2.0, 2.0, 1.0, 3.0, 3.0, 3.0, 4.0, 4.0, 3.0, 7.0, 7.0}, {2, 3, 1, 2}),
       .grad_inputs = random_inputs({{2, 1, 3, 4}, {3, 4, 2}})},
      {.op = "matmul",
       .variant = "batched with a transposed last pair (a @ b^T)",
       .f = [](const Inputs& x) { return matmul(x[0], transpose(x[1], -1, -2)); },
       .value_inputs = {batch_a(), batch_a()},
       .expected = t({5.0, 11.0, 11.0, 25.0, 1.0, 0.0, 0.0, 1.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 2, 3}, {2, 2, 3}})},
      {.op = "mm",
       .variant = "[2, 3] . [3, 2]",
       .f = [](const Inputs& x) { return mm(x[0], x[1]); },
       .value_inputs = {a23(), b32()},
       .expected = t({4.0, 5.0, 10.0, 11.0}, {2, 2}),
       .grad_inputs = random_inputs({{2, 3}, {3, 2}})},
      {.op = "mv",
       .variant = "[2, 3] . [3]",
       .f = [](const Inputs& x) { return mv(x[0], x[1]); },
       .value_inputs = {a23(), t({1.0, 0.0, -1.0}, {3})},
       .expected = t({-2.0, -2.0}, {2}),
       .grad_inputs = random_inputs({{2, 3}, {3}})},
      {.op = "dot",
       .variant = "[3] . [3]",
       .f = [](const Inputs& x) { return dot(x[0], x[1]); },
       .value_inputs = {t({1.0, 2.0, 3.0}, {3}), t({4.0, 5.0, 6.0}, {3})},
       .expected = t({32.0}, {}),
       .grad_inputs = random_inputs({{3}, {3}})},
      {.op = "outer",
       .variant = "[2] x [3]",
       .f = [](const Inputs& x) { return outer(x[0], x[1]); },
       .value_inputs = {t({1.0, 2.0}, {2}), t({3.0, 4.0, 5.0}, {3})},
       .expected = t({3.0, 4.0, 5.0, 6.0, 8.0, 10.0}, {2, 3}),
       .grad_inputs = random_inputs({{2}, {3}})},
      // x = [[1, 2], [3, 4]], W = [[1, 0], [0, 1], [1, 1]], b = [1, 2, 3]: x W^T
      // = [[1, 2, 3], [3, 4, 7]].
      {.op = "linear",
       .variant = "[2, 2] x [3, 2]^T + [3]",
       .f = [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
       .value_inputs = {t({1, 2, 3, 4}, {2, 2}), t({1, 0, 0, 1, 1, 1}, {3, 2}), t({1, 2, 3}, {3})},
       .expected = t({2, 4, 6, 4, 6, 10}, {2, 3}),
       .grad_inputs = random_inputs({{4, 2}, {3, 2}, {3}})},
      {.op = "linear",
       .variant = "no bias, transposed input",
       .f = [](const Inputs& x) { return linear(transpose(x[0], 0, 1), x[1]); },
       .value_inputs = {t({1, 3, 2, 4}, {2, 2}), t({1, 0, 0, 1, 1, 1}, {3, 2})},
       .expected = t({1, 2, 3, 3, 4, 7}, {2, 3}),
       .grad_inputs = random_inputs({{2, 4}, {3, 2}})},
      {.op = "linear",
       .variant = "batched [2, 1, 2] input",
       .f = [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
       .value_inputs = {t({1, 2, 3, 4}, {2, 1, 2}), t({1, 0, 0, 1, 1, 1}, {3, 2}),
                        t({1, 2, 3}, {3})},
       .expected = t({2, 4, 6, 4, 6, 10}, {2, 1, 3}),
       .grad_inputs = random_inputs({{2, 3, 2}, {3, 2}, {3}})},
      {.op = "matrix_exp",
       .variant = "diagonal [3, 3] (norm 2: two squarings)",
       .f = [](const Inputs& x) { return matrix_exp(x[0]); },
       .value_inputs = {t({1.0, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.5}, {3, 3})},
       .expected =
           t({std::exp(1.0), 0.0, 0.0, 0.0, std::exp(-2.0), 0.0, 0.0, 0.0, std::exp(0.5)}, {3, 3}),
       .grad_inputs = random_inputs({{3, 3}})},
      {.op = "matrix_exp",
       .variant = "nilpotent [[0, 1], [0, 0]] (series ends at I + A)",
       .f = [](const Inputs& x) { return matrix_exp(x[0]); },
       .value_inputs = {t({0.0, 1.0, 0.0, 0.0}, {2, 2})},
       .expected = t({1.0, 1.0, 0.0, 1.0}, {2, 2}),
       .grad_inputs = random_inputs({{2, 2}})},
      {.op = "matrix_exp",
       .variant = "rotation generator, angle 0.3 (norm under 1/2: no squaring)",
       .f = matrix_exp_scaled(0.1),
       .value_inputs = {t(rotation_generator(3.0), {2, 2})},
       .expected = t(rotation(0.3), {2, 2}),
       .grad_inputs = random_inputs({{3, 3}})},
      {.op = "matrix_exp",
       .variant = "rotation generator, angle 10 (five squarings)",
       .f = matrix_exp_scaled(4.0),
       .value_inputs = {t(rotation_generator(2.5), {2, 2})},
       .expected = t(rotation(10.0), {2, 2}),
       .grad_inputs = random_inputs({{3, 3}})},
      {.op = "matrix_exp",
       .variant = "batched [2, 2, 2]: nilpotent and rotation by 1",
       .f = [](const Inputs& x) { return matrix_exp(x[0]); },
       .value_inputs = {t({0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0}, {2, 2, 2})},
       .expected =
           t({1.0, 1.0, 0.0, 1.0, std::cos(1.0), -std::sin(1.0), std::sin(1.0), std::cos(1.0)},
             {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 3, 3}})},
  };
}

}  // namespace tether::op_table
