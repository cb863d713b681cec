// Op table: einsum, bmm and baddbmm (autograd/src/ops/einsum.cpp), on the
// contractions that attention and bilinear layers use. Expected values are
// torch.einsum's on the same inputs: seq() counts 1, 2, 3, ..., alt() cycles
// through -1.5 ... 1.5 in steps of 0.5.
#include <cmath>
#include <limits>

#include "op_table.h"

namespace tether::op_table {

namespace {

/// 1, 2, 3, ... in `shape`.
Tensor seq(const Shape& shape) {
  std::vector<double> values;
  for (std::int64_t i = 0; i < shape.numel(); ++i) values.push_back(static_cast<double>(i + 1));
  return t(values, shape);
}

/// ((5 i) mod 7 - 3) / 2 for element i: signs and sizes mixed.
Tensor alt(const Shape& shape) {
  std::vector<double> values;
  for (std::int64_t i = 0; i < shape.numel(); ++i)
    values.push_back(static_cast<double>((i * 5) % 7 - 3) / 2.0);
  return t(values, shape);
}

/// An entry for einsum(equation, x).
OpCase einsum_case(const std::string& equation, Inputs values, Tensor expected,
                   std::vector<Shape> grad_shapes) {
  return {.op = "einsum",
          .variant = "\"" + equation + "\"",
          .f = [equation](const Inputs& x) { return einsum(equation, x); },
          .value_inputs = std::move(values),
          .expected = std::move(expected),
          .grad_inputs = random_inputs(std::move(grad_shapes))};
}

}  // namespace

std::vector<OpCase> einsum_cases() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {
      einsum_case("bij,bjk->bik", {seq({2, 2, 3}), alt({2, 3, 2})},
                  t({3.0, 0.5, 3.0, 2.0, -4.5, 3.0, -6.0, 3.0}, {2, 2, 2}), {{2, 2, 3}, {2, 3, 2}}),
      einsum_case("bhqd,bhkd->bhqk", {seq({1, 2, 2, 3}), alt({1, 2, 2, 3})},
                  t({0.5, 3.5, -1.0, 6.5, -6.5, 5.5, -9.5, 7.0}, {1, 2, 2, 2}),
                  {{1, 2, 2, 3}, {1, 2, 2, 3}}),
      einsum_case(
          "bhqk,bhkd->bhqd", {alt({1, 2, 2, 2}), seq({1, 2, 2, 3})},
          t({2.5, 2.0, 1.5, -4.0, -5.0, -6.0, 15.5, 17.5, 19.5, -18.5, -20.5, -22.5}, {1, 2, 2, 3}),
          {{1, 2, 2, 2}, {1, 2, 2, 3}}),
      einsum_case("i,j->ij", {seq({2}), seq({3})}, t({1.0, 2.0, 3.0, 2.0, 4.0, 6.0}, {2, 3}),
                  {{2}, {3}}),
      einsum_case("bi,ij,bj->b", {seq({2, 3}), alt({3, 2}), seq({2, 2})}, t({4.0, 17.0}, {2}),
                  {{2, 3}, {3, 2}, {2, 2}}),
      einsum_case("ii->i", {seq({3, 3})}, t({1.0, 5.0, 9.0}, {3}), {{3, 3}}),
      einsum_case("ii", {seq({3, 3})}, t({15.0}, {}), {{3, 3}}),
      einsum_case("ij->ji", {seq({2, 3})}, t({1.0, 4.0, 2.0, 5.0, 3.0, 6.0}, {3, 2}), {{2, 3}}),
      einsum_case("...ij,...jk->...ik", {seq({2, 2, 3}), alt({3, 2})},
                  t({3.0, 0.5, 3.0, 2.0, 3.0, 3.5, 3.0, 5.0}, {2, 2, 2}), {{2, 2, 3}, {3, 2}}),
      einsum_case("ij,jk", {seq({2, 3}), alt({3, 2})}, t({3.0, 0.5, 3.0, 2.0}, {2, 2}),
                  {{2, 3}, {3, 2}}),
      einsum_case("ij,j->i", {seq({2, 3}), t({2.0}, {1})}, t({12.0, 30.0}, {2}), {{2, 3}, {1}}),
      {.op = "einsum",
       .variant = "\"ij,jk->ik\" of transposed operands",
       .f =
           [](const Inputs& x) {
             return einsum("ij,jk->ik", {transpose(x[0], 0, 1), transpose(x[1], 0, 1)});
           },
       .value_inputs = {seq({2, 3}).mT().contiguous(), alt({3, 2}).mT().contiguous()},
       .expected = t({3.0, 0.5, 3.0, 2.0}, {2, 2}),
       .grad_inputs = random_inputs({{3, 2}, {2, 3}})},
      {.op = "bmm",
       .variant = "[2, 2, 3] x [2, 3, 2]",
       .f = [](const Inputs& x) { return bmm(x[0], x[1]); },
       .value_inputs = {seq({2, 2, 3}), alt({2, 3, 2})},
       .expected = t({3.0, 0.5, 3.0, 2.0, -4.5, 3.0, -6.0, 3.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 2, 3}, {2, 3, 2}})},
      {.op = "baddbmm",
       .variant = "beta 0.5, alpha 2",
       .f = [](const Inputs& x) { return baddbmm(x[0], x[1], x[2], 0.5, 2); },
       .value_inputs = {seq({2, 2, 2}), seq({2, 2, 3}), alt({2, 3, 2})},
       .expected = t({6.5, 2.0, 7.5, 6.0, -6.5, 9.0, -8.5, 10.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 2, 2}, {2, 2, 3}, {2, 3, 2}})},
      {.op = "baddbmm",
       .variant = "beta 0 does not read a broadcast NaN input",
       .f = [](const Inputs& x) { return baddbmm(x[0], x[1], x[2], 0, 1); },
       .value_inputs = {t({nan, nan, nan, nan}, {2, 1, 2}), seq({2, 2, 3}), alt({2, 3, 2})},
       .expected = t({3.0, 0.5, 3.0, 2.0, -4.5, 3.0, -6.0, 3.0}, {2, 2, 2}),
       .grad_inputs = random_inputs({{2, 1, 2}, {2, 2, 3}, {2, 3, 2}})},
  };
}

}  // namespace tether::op_table
