// Op table: matrix products (autograd/src/ops/linalg.cpp). matmul is checked
// in every rank combination torch.matmul accepts, with broadcast batch dims
// and transposed operands; mm, mv, dot and outer once each. Then
// matrix_exp (matrix_functions.cpp) against closed forms, with norms that
// take no squaring and many. Then the decompositions (decompositions.cpp) on
// matrices whose factors are integers: their gradients are checked at random
// symmetric positive definite inputs (X X^T + n I, symmetrised inside f so
// that a perturbation of one entry moves its mirror image too) and at random
// triangles with a dominant diagonal, whose other triangle is never read.
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

/// (x + x^T) / 2 over the last two dims.
Tensor symmetrised(const Tensor& x) {
  return (x + transpose(x, -1, -2)) * 0.5;
}

/// A random well-conditioned symmetric positive definite leaf [..., n, n]: X X^T + n I.
Tensor random_spd(const Shape& shape) {
  const Tensor x = randn(shape, DType::f64);
  const std::int64_t n = shape.back();
  return (matmul(x, transpose(x, -1, -2)) + eye(n, std::nullopt, DType::f64) * n).requires_grad_();
}

/// A random leaf [..., n, n] with a dominant diagonal, so either of its
/// triangles is a well-conditioned triangular matrix.
Tensor dominant_diagonal(const Shape& shape) {
  const std::int64_t n = shape.back();
  return (randn(shape, DType::f64) + eye(n, std::nullopt, DType::f64) * n).requires_grad_();
}

/// [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]].
Tensor spd22() {
  return t({4.0, 2.0, 2.0, 3.0}, {2, 2});
}
/// Two batches: spd22() and diag(9, 1).
Tensor spd_batch() {
  return t({4.0, 2.0, 2.0, 3.0, 9.0, 0.0, 0.0, 1.0}, {2, 2, 2});
}
/// [[2, 0], [1, 1]]: L L^T = [[4, 2], [2, 2]], which maps [[1, 0], [-1, 2]] to
/// [[2, 4], [0, 4]] (the cholesky_solve entries).
Tensor lower22() {
  return t({2.0, 0.0, 1.0, 1.0}, {2, 2});
}
/// 1, 2, ..., 9 as [3, 3].
Tensor counting33() {
  return t({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}, {3, 3});
}

GradcheckFunction solve_triangular_with(bool upper, bool left = true, bool unitriangular = false) {
  return [=](const Inputs& x) { return solve_triangular(x[0], x[1], upper, left, unitriangular); };
}

const GradcheckFunction kCholesky = [](const Inputs& x) { return cholesky(symmetrised(x[0])); };
const GradcheckFunction kLogdet = [](const Inputs& x) { return logdet(symmetrised(x[0])); };

/// One (lower) triangular matrix and a right-hand side, random.
std::function<Inputs()> triangular_system(const Shape& a, const Shape& b) {
  return [=] { return Inputs{dominant_diagonal(a), rnd(b)}; };
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
      // A [2, 2, 2] batch transposed is no view of rows: it is copied into one.
      // Its rows are [1, 2], [5, 6], [3, 4], [7, 8].
      {.op = "linear",
       .variant = "batched input that is not a view of rows",
       .f = [](const Inputs& x) { return linear(transpose(x[0], 0, 1), x[1], x[2]); },
       .value_inputs = {t({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}), t({1, 0, 0, 1, 1, 1}, {3, 2}),
                        t({1, 2, 3}, {3})},
       .expected = t({2, 4, 6, 6, 8, 14, 4, 6, 10, 8, 10, 18}, {2, 2, 3}),
       .grad_inputs = random_inputs({{3, 2, 2}, {3, 2}, {3}})},
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
      {.op = "cholesky",
       .variant = "[2, 2]",
       .f = kCholesky,
       .value_inputs = {spd22()},
       .expected = t({2.0, 0.0, 1.0, std::sqrt(2.0)}, {2, 2}),
       .grad_inputs =
           [] {
             return Inputs{random_spd({3, 3})};
           }},
      // L = [[2, 0, 0], [1, 2, 0], [1, 1, 2]].
      {.op = "cholesky",
       .variant = "[3, 3] with an integer factor",
       .f = kCholesky,
       .value_inputs = {t({4.0, 2.0, 2.0, 2.0, 5.0, 3.0, 2.0, 3.0, 6.0}, {3, 3})},
       .expected = t({2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 1.0, 1.0, 2.0}, {3, 3}),
       .grad_inputs =
           [] {
             return Inputs{random_spd({4, 4})};
           }},
      {.op = "cholesky",
       .variant = "upper, U^T U = A",
       .f = [](const Inputs& x) { return cholesky(symmetrised(x[0]), /*upper=*/true); },
       .value_inputs = {spd22()},
       .expected = t({2.0, 1.0, 0.0, std::sqrt(2.0)}, {2, 2}),
       .grad_inputs =
           [] {
             return Inputs{random_spd({3, 3})};
           }},
      {.op = "cholesky",
       .variant = "batched [2, 2, 2]",
       .f = kCholesky,
       .value_inputs = {spd_batch()},
       .expected = t({2.0, 0.0, 1.0, std::sqrt(2.0), 3.0, 0.0, 0.0, 1.0}, {2, 2, 2}),
       .grad_inputs =
           [] {
             return Inputs{random_spd({2, 3, 3})};
           }},
      {.op = "solve_triangular",
       .variant = "lower, A X = B",
       .f = solve_triangular_with(/*upper=*/false),
       .value_inputs = {lower22(), t({2.0, 3.0}, {2, 1})},
       .expected = t({1.0, 2.0}, {2, 1}),
       .grad_inputs = triangular_system({3, 3}, {3, 2})},
      // The 9 below the diagonal is not read.
      {.op = "solve_triangular",
       .variant = "upper, A X = B",
       .f = solve_triangular_with(/*upper=*/true),
       .value_inputs = {t({2.0, 1.0, 9.0, 4.0}, {2, 2}), t({4.0, 8.0}, {2, 1})},
       .expected = t({1.0, 2.0}, {2, 1}),
       .grad_inputs = triangular_system({3, 3}, {3, 2})},
      // [x1, x2] [[2, 0], [1, 1]] = [2 x1 + x2, x2] = [4, 1].
      {.op = "solve_triangular",
       .variant = "lower, X A = B (left = false)",
       .f = solve_triangular_with(/*upper=*/false, /*left=*/false),
       .value_inputs = {lower22(), t({4.0, 1.0}, {1, 2})},
       .expected = t({1.5, 1.0}, {1, 2}),
       .grad_inputs = triangular_system({3, 3}, {2, 3})},
      {.op = "solve_triangular",
       .variant = "upper, X A = B (left = false)",
       .f = solve_triangular_with(/*upper=*/true, /*left=*/false),
       .value_inputs = {t({2.0, 1.0, 0.0, 1.0}, {2, 2}), t({4.0, 3.0}, {1, 2})},
       .expected = t({2.0, 1.0}, {1, 2}),
       .grad_inputs = triangular_system({3, 3}, {2, 3})},
      // The diagonal 5, 7 is taken as ones: [[1, 0], [3, 1]] X = [1, 5]. A unit
      // triangle needs no dominant diagonal to be well conditioned.
      {.op = "solve_triangular",
       .variant = "unitriangular lower",
       .f = solve_triangular_with(/*upper=*/false, /*left=*/true, /*unitriangular=*/true),
       .value_inputs = {t({5.0, 0.0, 3.0, 7.0}, {2, 2}), t({1.0, 5.0}, {2, 1})},
       .expected = t({1.0, 2.0}, {2, 1}),
       .grad_inputs = random_inputs({{3, 3}, {3, 2}})},
      {.op = "solve_triangular",
       .variant = "unitriangular upper, X A = B",
       .f = solve_triangular_with(/*upper=*/true, /*left=*/false, /*unitriangular=*/true),
       .value_inputs = {t({5.0, 3.0, 0.0, 7.0}, {2, 2}), t({1.0, 5.0}, {1, 2})},
       .expected = t({1.0, 2.0}, {1, 2}),
       .grad_inputs = random_inputs({{3, 3}, {2, 3}})},
      // [[2, 0], [1, 1]] X = [2, 4] and diag(1, 4) X = [2, 4].
      {.op = "solve_triangular",
       .variant = "batched A [2, 2, 2], shared B [2, 1]",
       .f = solve_triangular_with(/*upper=*/false),
       .value_inputs = {t({2.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 4.0}, {2, 2, 2}),
                        t({2.0, 4.0}, {2, 1})},
       .expected = t({1.0, 3.0, 2.0, 1.0}, {2, 2, 1}),
       .grad_inputs = triangular_system({2, 3, 3}, {3, 2})},
      {.op = "solve_triangular",
       .variant = "shared A, 4-d batched B [2, 1, 2, 1]",
       .f = solve_triangular_with(/*upper=*/false),
       .value_inputs = {lower22(), t({2.0, 3.0, 4.0, 2.0}, {2, 1, 2, 1})},
       .expected = t({1.0, 2.0, 2.0, 0.0}, {2, 1, 2, 1}),
       .grad_inputs = triangular_system({3, 3}, {2, 1, 3, 2})},
      // transpose([[2, 1], [0, 1]]) is lower22().
      {.op = "solve_triangular",
       .variant = "transposed (non-contiguous) A",
       .f = [](const Inputs& x) { return solve_triangular(transpose(x[0], 0, 1), x[1], false); },
       .value_inputs = {t({2.0, 1.0, 0.0, 1.0}, {2, 2}), t({2.0, 3.0}, {2, 1})},
       .expected = t({1.0, 2.0}, {2, 1}),
       .grad_inputs = triangular_system({3, 3}, {3, 2})},
      {.op = "cholesky_solve",
       .variant = "lower factor, B [2, 2]",
       .f = [](const Inputs& x) { return cholesky_solve(x[0], x[1]); },
       .value_inputs = {t({2.0, 4.0, 0.0, 4.0}, {2, 2}), lower22()},
       .expected = t({1.0, 0.0, -1.0, 2.0}, {2, 2}),
       .grad_inputs =
           [] {
             return Inputs{rnd({3, 2}), dominant_diagonal({3, 3})};
           }},
      {.op = "cholesky_solve",
       .variant = "upper factor",
       .f = [](const Inputs& x) { return cholesky_solve(x[0], x[1], /*upper=*/true); },
       .value_inputs = {t({2.0, 4.0, 0.0, 4.0}, {2, 2}), t({2.0, 1.0, 0.0, 1.0}, {2, 2})},
       .expected = t({1.0, 0.0, -1.0, 2.0}, {2, 2}),
       .grad_inputs =
           [] {
             return Inputs{rnd({3, 2}), dominant_diagonal({3, 3})};
           }},
      // The columns of the B above, as two batches.
      {.op = "cholesky_solve",
       .variant = "batched B [2, 2, 1], shared factor",
       .f = [](const Inputs& x) { return cholesky_solve(x[0], x[1]); },
       .value_inputs = {t({2.0, 0.0, 4.0, 4.0}, {2, 2, 1}), lower22()},
       .expected = t({1.0, -1.0, 0.0, 2.0}, {2, 2, 1}),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 3, 1}), dominant_diagonal({3, 3})};
           }},
      {.op = "logdet",
       .variant = "[2, 2]",
       .f = kLogdet,
       .value_inputs = {spd22()},
       .expected = t({std::log(8.0)}, {}),
       .grad_inputs =
           [] {
             return Inputs{random_spd({3, 3})};
           }},
      {.op = "logdet",
       .variant = "batched [2, 2, 2]",
       .f = kLogdet,
       .value_inputs = {spd_batch()},
       .expected = t({std::log(8.0), std::log(9.0)}, {2}),
       .grad_inputs =
           [] {
             return Inputs{random_spd({2, 3, 3})};
           }},
      {.op = "tril",
       .variant = "[3, 3], main diagonal",
       .f = [](const Inputs& x) { return tril(x[0]); },
       .value_inputs = {counting33()},
       .expected = t({1.0, 0.0, 0.0, 4.0, 5.0, 0.0, 7.0, 8.0, 9.0}, {3, 3}),
       .grad_inputs = random_inputs({{3, 3}})},
      {.op = "tril",
       .variant = "strictly lower (-1) of a batch [2, 2, 2]",
       .f = [](const Inputs& x) { return tril(x[0], -1); },
       .value_inputs = {spd_batch()},
       .expected = t({0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 3, 3}})},
      {.op = "triu",
       .variant = "[2, 3] from diagonal 1",
       .f = [](const Inputs& x) { return triu(x[0], 1); },
       .value_inputs = {a23()},
       .expected = t({0.0, 2.0, 3.0, 0.0, 0.0, 6.0}, {2, 3}),
       .grad_inputs = random_inputs({{2, 3}})},
      {.op = "triu",
       .variant = "transposed [3, 3], main diagonal",
       .f = [](const Inputs& x) { return triu(transpose(x[0], 0, 1)); },
       .value_inputs = {counting33()},
       .expected = t({1.0, 4.0, 7.0, 0.0, 5.0, 8.0, 0.0, 0.0, 9.0}, {3, 3}),
       .grad_inputs = random_inputs({{3, 3}})},
      {.op = "diagonal",
       .variant = "[3, 3], main diagonal",
       .f = [](const Inputs& x) { return diagonal(x[0]); },
       .value_inputs = {counting33()},
       .expected = t({1.0, 5.0, 9.0}, {3}),
       .grad_inputs = random_inputs({{3, 3}})},
      {.op = "diagonal",
       .variant = "[2, 3], offset 1",
       .f = [](const Inputs& x) { return diagonal(x[0], 1); },
       .value_inputs = {a23()},
       .expected = t({2.0, 6.0}, {2}),
       .grad_inputs = random_inputs({{2, 3}})},
      {.op = "diagonal",
       .variant = "[3, 3], offset -1",
       .f = [](const Inputs& x) { return diagonal(x[0], -1); },
       .value_inputs = {counting33()},
       .expected = t({4.0, 8.0}, {2}),
       .grad_inputs = random_inputs({{3, 3}})},
      {.op = "diagonal",
       .variant = "batched [2, 2, 2] of a transposed view",
       .f = [](const Inputs& x) { return diagonal(transpose(x[0], 0, 2)); },
       .value_inputs = {t({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}, {2, 2, 2})},
       .expected = t({1.0, 7.0, 2.0, 8.0}, {2, 2}),
       .grad_inputs = random_inputs({{2, 3, 2}})},
  };
}

}  // namespace tether::op_table
