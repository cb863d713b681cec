// Op table: reductions and the normalising ops built on them
// (autograd/src/ops/reduction.cpp). Most entries reduce one [2, 3] tensor,
//   x = [[1, -2, 3],
//        [4, 0.5, -1]],
// over all dims, one dim (often negative), or with keepdim.
#include <cmath>
#include <initializer_list>
#include <numbers>

#include "op_table.h"

namespace tether::op_table {

namespace {

Tensor x23() {
  return t({1.0, -2.0, 3.0, 4.0, 0.5, -1.0}, {2, 3});
}
/// Rows with easy variances: [1, 2, 3] (mean 2) and [2, 4, 9] (mean 5).
Tensor spread23() {
  return t({1.0, 2.0, 3.0, 2.0, 4.0, 9.0}, {2, 3});
}
/// Rows whose softmax is easy to state: [1, 2, 3] and [0, 0, log 3] (-> [0.2, 0.2, 0.6]).
Tensor logits23() {
  return t({1.0, 2.0, 3.0, 0.0, 0.0, std::log(3.0)}, {2, 3});
}
/// 1, 2, ..., 12 as [2, 2, 3].
Tensor count223() {
  return t({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 3});
}

const auto kRandom23 = random_inputs({{2, 3}});
const auto kRandom22 = random_inputs({{2, 2}});
const auto kRandom223 = random_inputs({{2, 2, 3}});

/// log(sum(exp(values))), the closed form behind the logsumexp and softmax entries.
double log_sum_exp(std::initializer_list<double> values) {
  double total = 0.0;
  for (double v : values) total += std::exp(v);
  return std::log(total);
}

std::vector<OpCase> reductions() {
  return {
      {.op = "sum",
       .variant = "all dims",
       .f = [](const Inputs& x) { return sum(x[0]); },
       .value_inputs = {x23()},
       .expected = t({5.5}, {}),
       .grad_inputs = kRandom23},
      {.op = "sum",
       .variant = "dim 0",
       .f = [](const Inputs& x) { return sum(x[0], {0}); },
       .value_inputs = {x23()},
       .expected = t({5.0, -1.5, 2.0}, {3}),
       .grad_inputs = kRandom23},
      {.op = "sum",
       .variant = "dims {0, -1}, keepdim",
       .f =
           [](const Inputs& x) {
             return sum(x[0], {0, -1}, true);
           },
       .value_inputs = {x23()},
       .expected = t({5.5}, {1, 1}),
       .grad_inputs = kRandom23},
      {.op = "sum",
       .variant = "dim -1 of a transposed [3, 2]",
       .f = [](const Inputs& x) { return sum(transpose(x[0], 0, 1), {-1}); },
       .value_inputs = {x23()},
       .expected = t({5.0, -1.5, 2.0}, {3}),
       .grad_inputs = kRandom23},
      {.op = "mean",
       .variant = "all dims",
       .f = [](const Inputs& x) { return mean(x[0]); },
       .value_inputs = {x23()},
       .expected = t({5.5 / 6.0}, {}),
       .grad_inputs = kRandom23},
      {.op = "mean",
       .variant = "dim -1, keepdim",
       .f = [](const Inputs& x) { return mean(x[0], {-1}, true); },
       .value_inputs = {x23()},
       .expected = t({2.0 / 3.0, 3.5 / 3.0}, {2, 1}),
       .grad_inputs = kRandom23},
      {.op = "mean",
       .variant = "dims {-1, 0} of [2, 2, 3]",
       .f =
           [](const Inputs& x) {
             return mean(x[0], {-1, 0});
           },
       .value_inputs = {count223()},
       .expected = t({5.0, 8.0}, {2}),
       .grad_inputs = kRandom223},
      {.op = "var",
       .variant = "all dims",
       .f = [](const Inputs& x) { return var(x[0]); },
       .value_inputs = {spread23()},
       .expected = t({8.3}, {}),
       .grad_inputs = kRandom23},
      {.op = "var",
       .variant = "dim -1",
       .f = [](const Inputs& x) { return var(x[0], {-1}); },
       .value_inputs = {spread23()},
       .expected = t({1.0, 13.0}, {2}),
       .grad_inputs = kRandom23},
      {.op = "var",
       .variant = "dim 1, correction 0, keepdim",
       .f = [](const Inputs& x) { return var(x[0], {1}, 0, true); },
       .value_inputs = {spread23()},
       .expected = t({2.0 / 3.0, 26.0 / 3.0}, {2, 1}),
       .grad_inputs = kRandom23},
      {.op = "var",
       .variant = "dim 0",
       .f = [](const Inputs& x) { return var(x[0], {0}); },
       .value_inputs = {spread23()},
       .expected = t({0.5, 2.0, 18.0}, {3}),
       .grad_inputs = kRandom23},
      {.op = "amax",
       .variant = "all dims",
       .f = [](const Inputs& x) { return amax(x[0]); },
       .value_inputs = {x23()},
       .expected = t({4.0}, {}),
       .grad_inputs = kRandom23},
      {.op = "amax",
       .variant = "dim 0",
       .f = [](const Inputs& x) { return amax(x[0], {0}); },
       .value_inputs = {x23()},
       .expected = t({4.0, 0.5, 3.0}, {3}),
       .grad_inputs = kRandom23},
      {.op = "amax",
       .variant = "dim -1, keepdim",
       .f = [](const Inputs& x) { return amax(x[0], {-1}, true); },
       .value_inputs = {x23()},
       .expected = t({3.0, 4.0}, {2, 1}),
       .grad_inputs = kRandom23},
      {.op = "amax",
       .variant = "dim 0 of a transposed [3, 2]",
       .f = [](const Inputs& x) { return amax(transpose(x[0], 0, 1), {0}); },
       .value_inputs = {x23()},
       .expected = t({3.0, 4.0}, {2}),
       .grad_inputs = kRandom23},
      {.op = "amin",
       .variant = "all dims",
       .f = [](const Inputs& x) { return amin(x[0]); },
       .value_inputs = {x23()},
       .expected = t({-2.0}, {}),
       .grad_inputs = kRandom23},
      {.op = "amin",
       .variant = "dim 1",
       .f = [](const Inputs& x) { return amin(x[0], {1}); },
       .value_inputs = {x23()},
       .expected = t({-2.0, -1.0}, {2}),
       .grad_inputs = kRandom23},
      {.op = "norm",
       .variant = "all dims",
       .f = [](const Inputs& x) { return norm(x[0]); },
       .value_inputs = {x23()},
       .expected = t({std::sqrt(31.25)}, {}),
       .grad_inputs = kRandom23},
      {.op = "norm",
       .variant = "dim 1, keepdim",
       .f = [](const Inputs& x) { return norm(x[0], {1}, true); },
       .value_inputs = {x23()},
       .expected = t({std::sqrt(14.0), std::sqrt(17.25)}, {2, 1}),
       .grad_inputs = kRandom23},
      {.op = "sum_to_shape",
       .variant = "[2, 3] to [1, 3]",
       .f =
           [](const Inputs& x) {
             return sum_to_shape(x[0], {1, 3});
           },
       .value_inputs = {x23()},
       .expected = t({5.0, -1.5, 2.0}, {1, 3}),
       .grad_inputs = kRandom23},
      {.op = "sum_to_shape",
       .variant = "[2, 3] to [3] (a leading dim)",
       .f = [](const Inputs& x) { return sum_to_shape(x[0], {3}); },
       .value_inputs = {x23()},
       .expected = t({5.0, -1.5, 2.0}, {3}),
       .grad_inputs = kRandom23},
      {.op = "sum_to_shape",
       .variant = "[2, 2, 3] to [2, 1]",
       .f =
           [](const Inputs& x) {
             return sum_to_shape(x[0], {2, 1});
           },
       .value_inputs = {count223()},
       .expected = t({30.0, 48.0}, {2, 1}),
       .grad_inputs = kRandom223},
  };
}

std::vector<OpCase> exponential_ops() {
  const double lse = log_sum_exp({1.0, 2.0, 3.0});
  const double p1 = std::exp(1.0 - lse), p2 = std::exp(2.0 - lse), p3 = std::exp(3.0 - lse);
  // Columns of x23: [1, 4], [-2, 0.5], [3, -1].
  const double col0 = log_sum_exp({1.0, 4.0}), col1 = log_sum_exp({-2.0, 0.5}),
               col2 = log_sum_exp({3.0, -1.0});
  const double r2 = 1.0 / std::numbers::sqrt2;
  return {
      {.op = "logsumexp",
       .variant = "dim -1",
       .f = [](const Inputs& x) { return logsumexp(x[0], {-1}); },
       .value_inputs = {x23()},
       .expected = t({log_sum_exp({1.0, -2.0, 3.0}), log_sum_exp({4.0, 0.5, -1.0})}, {2}),
       .grad_inputs = kRandom23},
      {.op = "logsumexp",
       .variant = "dim 0, keepdim",
       .f = [](const Inputs& x) { return logsumexp(x[0], {0}, true); },
       .value_inputs = {x23()},
       .expected = t({col0, col1, col2}, {1, 3}),
       .grad_inputs = kRandom23},
      {.op = "logsumexp",
       .variant = "all dims ({})",
       .f = [](const Inputs& x) { return logsumexp(x[0], {}); },
       .value_inputs = {x23()},
       .expected = t({log_sum_exp({1.0, -2.0, 3.0, 4.0, 0.5, -1.0})}, {}),
       .grad_inputs = kRandom23},
      {.op = "logsumexp",
       .variant = "values of +-1000 without overflow",
       .f = [](const Inputs& x) { return logsumexp(x[0], {-1}); },
       .value_inputs = {t({1000.0, 1000.0, -1000.0, 1000.0}, {2, 2})},
       .expected = t({1000.0 + std::numbers::ln2, 1000.0}, {2}),
       .grad_inputs = kRandom22},
      {.op = "softmax",
       .variant = "dim -1",
       .f = [](const Inputs& x) { return softmax(x[0], -1); },
       .value_inputs = {logits23()},
       .expected = t({p1, p2, p3, 0.2, 0.2, 0.6}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "softmax",
       .variant = "dim 0 of a transposed [3, 2]",
       .f = [](const Inputs& x) { return softmax(transpose(x[0], 0, 1), 0); },
       .value_inputs = {logits23()},
       .expected = t({p1, 0.2, p2, 0.2, p3, 0.6}, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "log_softmax",
       .variant = "dim -1",
       .f = [](const Inputs& x) { return log_softmax(x[0], -1); },
       .value_inputs = {logits23()},
       .expected = t({1.0 - lse, 2.0 - lse, 3.0 - lse, std::log(0.2), std::log(0.2), std::log(0.6)},
                     {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "log_softmax",
       .variant = "dim 0",
       .f = [](const Inputs& x) { return log_softmax(x[0], 0); },
       .value_inputs = {x23()},
       .expected =
           t({1.0 - col0, -2.0 - col1, 3.0 - col2, 4.0 - col0, 0.5 - col1, -1.0 - col2}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "normalize",
       .variant = "default dim 1, a zero row stays zero",
       .f = [](const Inputs& x) { return normalize(x[0]); },
       .value_inputs = {t({3.0, 0.0, 4.0, 0.0, 0.0, 0.0}, {2, 3})},
       .expected = t({0.6, 0.0, 0.8, 0.0, 0.0, 0.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "normalize",
       .variant = "dim -2 of [2, 2]",
       .f = [](const Inputs& x) { return normalize(x[0], -2); },
       .value_inputs = {t({3.0, 1.0, 4.0, 1.0}, {2, 2})},
       .expected = t({0.6, r2, 0.8, r2}, {2, 2}),
       .grad_inputs = kRandom22},
  };
}

}  // namespace

std::vector<OpCase> reduction_cases() {
  std::vector<OpCase> cases = reductions();
  for (auto& c : exponential_ops()) cases.push_back(std::move(c));
  return cases;
}

}  // namespace tether::op_table
