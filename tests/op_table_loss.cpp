// Op table: nn's losses (nn/src/functional.cpp), each once with its default
// mean and once with another reduction or option, on values whose losses are
// worked out by hand. Their gradients are checked in every input that takes
// one (targets and variances too, as in PyTorch); class labels are i64 and
// built inside f.
#include <cmath>
#include <numbers>

#include "op_table.h"

namespace tether::op_table {

namespace {

using nn::Reduction;

/// input - target = [[1, -2, -2], [0, -1, 3]].
Inputs regression_operands() {
  return {t({1.0, -2.0, 3.0, 0.5, 0.0, 2.0}, {2, 3}), t({0.0, 0.0, 5.0, 0.5, 1.0, -1.0}, {2, 3})};
}

/// Logits [[1, 2, 3], [1, 1, 1]] with labels [2, 0]: row 0 costs
/// log(1 + e^-1 + e^-2), row 1 (equal logits) log 3.
Tensor class_logits() {
  return t({1.0, 2.0, 3.0, 1.0, 1.0, 1.0}, {2, 3});
}
Tensor class_labels() {
  return ints({2, 0}, {2});
}
const double kRow0 = std::log(1 + std::exp(-1.0) + std::exp(-2.0)), kRow1 = std::log(3.0);

/// Logit 0 with label 1 costs log 2, logit 2 with label 0 log(1 + e^2).
const double kLabelOne = std::log(2.0), kLabelZero = std::log(1 + std::exp(2.0));

/// 0.5 * (log var + diff^2 / var) at diff 1, var 1 and at diff 2, var 4.
const double kGaussian0 = 0.5, kGaussian1 = 0.5 * (std::log(4.0) + 1);

}  // namespace

std::vector<OpCase> loss_cases() {
  return {
      {.op = "mse_loss",
       .variant = "mean of [2, 3]",
       .f = [](const Inputs& x) { return nn::mse_loss(x[0], x[1]); },
       .value_inputs = regression_operands(),
       .expected = t({19.0 / 6}, {}),
       .grad_inputs = random_inputs({{2, 3}, {2, 3}})},
      {.op = "mse_loss",
       .variant = "sum of [2, 3]",
       .f = [](const Inputs& x) { return nn::mse_loss(x[0], x[1], Reduction::sum); },
       .value_inputs = regression_operands(),
       .expected = t({19.0}, {}),
       .grad_inputs = random_inputs({{2, 3}, {2, 3}})},
      {.op = "mse_loss",
       .variant = "reduction none",
       .f = [](const Inputs& x) { return nn::mse_loss(x[0], x[1], Reduction::none); },
       .value_inputs = regression_operands(),
       .expected = t({1.0, 4.0, 4.0, 0.0, 1.0, 9.0}, {2, 3}),
       .grad_inputs = random_inputs({{2, 3}, {2, 3}})},
      // Random inputs and targets differ by far more than the finite-difference
      // step, so the checks never straddle |input - target|'s kink.
      {.op = "l1_loss",
       .variant = "mean of [2, 3]",
       .f = [](const Inputs& x) { return nn::l1_loss(x[0], x[1]); },
       .value_inputs = regression_operands(),
       .expected = t({9.0 / 6}, {}),
       .grad_inputs = random_inputs({{2, 3}, {2, 3}})},
      {.op = "l1_loss",
       .variant = "reduction sum",
       .f = [](const Inputs& x) { return nn::l1_loss(x[0], x[1], Reduction::sum); },
       .value_inputs = regression_operands(),
       .expected = t({9.0}, {}),
       .grad_inputs = random_inputs({{2, 3}, {2, 3}})},
      {.op = "binary_cross_entropy_with_logits",
       .variant = "mean of [2]",
       .f = [](const Inputs& x) { return nn::binary_cross_entropy_with_logits(x[0], x[1]); },
       .value_inputs = {t({0.0, 2.0}, {2}), t({1.0, 0.0}, {2})},
       .expected = t({(kLabelOne + kLabelZero) / 2}, {}),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 3}), positive({2, 3}) * 0.5};
           }},
      {.op = "binary_cross_entropy_with_logits",
       .variant = "pos_weight [2] broadcast over [2, 2], reduction sum",
       .f =
           [](const Inputs& x) {
             return nn::binary_cross_entropy_with_logits(x[0], x[1], Reduction::sum, x[2]);
           },
       .value_inputs = {t({0.0, 2.0, 0.0, 2.0}, {2, 2}), t({1.0, 0.0, 1.0, 0.0}, {2, 2}),
                        t({3.0, 5.0}, {2})},
       .expected = t({3 * kLabelOne + kLabelZero + 3 * kLabelOne + kLabelZero}, {}),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 2}), positive({2, 2}) * 0.5, positive({2})};
           }},
      {.op = "gaussian_nll_loss",
       .variant = "mean of [2, 1]",
       .f = [](const Inputs& x) { return nn::gaussian_nll_loss(x[0], x[1], x[2]); },
       .value_inputs = {t({1.0, 2.0}, {2, 1}), t({0.0, 0.0}, {2, 1}), t({1.0, 4.0}, {2, 1})},
       .expected = t({(kGaussian0 + kGaussian1) / 2}, {}),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 3}), rnd({2, 3}), positive({2, 3})};
           }},
      {.op = "gaussian_nll_loss",
       .variant = "full, var without the last dim, reduction none",
       .f =
           [](const Inputs& x) {
             return nn::gaussian_nll_loss(x[0], x[1], x[2], true, 1e-6, Reduction::none);
           },
       .value_inputs = {t({1.0, 2.0}, {2, 1}), t({0.0, 0.0}, {2, 1}), t({1.0, 4.0}, {2})},
       .expected = t({kGaussian0 + 0.5 * std::log(2 * std::numbers::pi),
                      kGaussian1 + 0.5 * std::log(2 * std::numbers::pi)},
                     {2, 1}),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 1}), rnd({2, 1}), positive({2})};
           }},
      {.op = "nll_loss",
       .variant = "mean of [2, 3] with labels [1, 0]",
       .f =
           [](const Inputs& x) {
             return nn::nll_loss(x[0], ints({1, 0}, {2}));
           },
       .value_inputs = {t({-1.0, -2.0, -3.0, -0.5, -1.5, -2.5}, {2, 3})},
       .expected = t({(2.0 + 0.5) / 2}, {}),
       .grad_inputs = random_inputs({{2, 3}})},
      {.op = "nll_loss",
       .variant = "reduction none",
       .f =
           [](const Inputs& x) {
             return nn::nll_loss(x[0], ints({1, 0}, {2}), Reduction::none);
           },
       .value_inputs = {t({-1.0, -2.0, -3.0, -0.5, -1.5, -2.5}, {2, 3})},
       .expected = t({2.0, 0.5}, {2}),
       .grad_inputs = random_inputs({{2, 3}})},
      {.op = "cross_entropy",
       .variant = "mean of [2, 3]",
       .f = [](const Inputs& x) { return nn::cross_entropy(x[0], class_labels()); },
       .value_inputs = {class_logits()},
       .expected = t({(kRow0 + kRow1) / 2}, {}),
       .grad_inputs = random_inputs({{2, 3}})},
      // Smoothing 0.1 over 3 classes: row 0 costs 0.9 * its loss plus 0.1 *
      // (logsumexp - mean logit) = 0.1 * (kRow0 + 1); row 1's classes all cost log 3.
      {.op = "cross_entropy",
       .variant = "label smoothing 0.1, reduction sum",
       .f =
           [](const Inputs& x) {
             return nn::cross_entropy(x[0], class_labels(), Reduction::sum, 0.1);
           },
       .value_inputs = {class_logits()},
       .expected = t({0.9 * kRow0 + 0.1 * (kRow0 + 1) + kRow1}, {}),
       .grad_inputs = random_inputs({{2, 3}})},
      // Row 1's label is ignore_index (-100): the mean is row 0's loss alone.
      {.op = "cross_entropy",
       .variant = "ignore_index, mean over the labels kept",
       .f =
           [](const Inputs& x) {
             return nn::cross_entropy(x[0], ints({2, -100}, {2}));
           },
       .value_inputs = {class_logits()},
       .expected = t({kRow0}, {}),
       .grad_inputs = random_inputs({{2, 3}})},
      {.op = "cross_entropy",
       .variant = "ignore_index with label smoothing 0.1",
       .f =
           [](const Inputs& x) {
             return nn::cross_entropy(x[0], ints({2, -100}, {2}), Reduction::mean, 0.1);
           },
       .value_inputs = {class_logits()},
       .expected = t({0.9 * kRow0 + 0.1 * (kRow0 + 1)}, {}),
       .grad_inputs = random_inputs({{2, 3}})},
      // The two rows of class_logits() as the two positions of one sample [1, 3, 2].
      {.op = "cross_entropy",
       .variant = "scores [N, C, d1], labels [N, d1]",
       .f =
           [](const Inputs& x) {
             return nn::cross_entropy(x[0], ints({2, 0}, {1, 2}));
           },
       .value_inputs = {t({1.0, 1.0, 2.0, 1.0, 3.0, 1.0}, {1, 3, 2})},
       .expected = t({(kRow0 + kRow1) / 2}, {}),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 3, 2})};
           }},
      // Probabilities [0.5, 0, 0.5] on logits [1, 2, 3] cost logsumexp - 2 =
      // 1 + kRow0; any probabilities on equal logits cost log 3.
      {.op = "cross_entropy",
       .variant = "class probabilities, reduction sum",
       .f = [](const Inputs& x) { return nn::cross_entropy(x[0], x[1], Reduction::sum); },
       .value_inputs = {class_logits(), t({0.5, 0.0, 0.5, 0.2, 0.3, 0.5}, {2, 3})},
       .expected = t({1 + kRow0 + kRow1}, {}),
       .grad_inputs =
           [] {
             return Inputs{rnd({2, 3}), positive({2, 3})};
           }},
  };
}

}  // namespace tether::op_table
