// The op table: one entry per (op, variant) drives that op's tests, so an op
// cannot land without its value test and its gradient checks. The driver
// (op_table_test.cpp) takes every entry through four checks:
//
//   1. f(value_inputs) in f64 equals `expected` (shape, and values to 1e-12);
//   2. the same inputs converted to f32 give `expected` to 1e-5 (f32 kernels);
//   3. gradcheck(f, grad_inputs()) - analytic against finite differences;
//   4. gradgradcheck(f, grad_inputs()) when `second_order`.
//
// Adding an op: write an entry in its family's file (op_table_<family>.cpp),
//
//   {.op = "exp",
//    .variant = "[2, 2]",
//    .f = [](const Inputs& x) { return exp(x[0]); },
//    .value_inputs = {t({0, 1, -1, 2}, {2, 2})},
//    .expected = t({1, std::exp(1.0), std::exp(-1.0), std::exp(2.0)}, {2, 2}),
//    .grad_inputs = random_inputs({{2, 2}})},
//
// (or in a family's shorthand, such as UnaryCase for element-wise ops of one
// tensor). Expected values come from closed forms or by hand, never from
// tether. The driver reads ops.h and nn/functional.h and fails for a function
// declared there without a gradient-checked entry, unless its allow-list
// (factories, comparisons, ...) gives the reason.
//
// Non-contiguous operands are made inside `f` (gradcheck copies its inputs into
// fresh contiguous leaves), e.g. `f = op(transpose(x[0], 0, 1))`. Index and
// condition tensors, which take no gradient, are built inside `f` too, so all
// inputs of differentiable entries are f64. An entry without grad_inputs
// (comparisons, i64 arithmetic, ...) is checked for values only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tether/tether.h"

namespace tether::op_table {

using Inputs = std::vector<Tensor>;

struct OpCase {
  /// The public function's name in ops.h, e.g. "softmax".
  std::string op;
  /// What this entry exercises, e.g. "dim 0 of a transposed [3, 2]".
  std::string variant;
  /// Applies the op to its inputs.
  GradcheckFunction f;
  /// Small explicit f64 tensors (i64 for integer arithmetic).
  Inputs value_inputs;
  /// f(value_inputs): explicit shape, values and dtype.
  Tensor expected;
  /// Random f64 inputs that require grad; empty for an op without gradient.
  std::function<Inputs()> grad_inputs = {};
  /// Whether gradgradcheck runs too.
  bool second_order = true;
  /// Finite-difference step and tolerances of both gradient checks.
  GradcheckOptions tolerance = {};
  /// Whether CUDA computes it too; false for i64 products, which CUDA refuses
  /// with a DTypeError, as PyTorch's does (backend_cuda_test.cpp checks the refusal).
  bool on_cuda = true;
};

/// The entries of each family, in op_table_<family>.cpp.
std::vector<OpCase> elementwise_cases();
std::vector<OpCase> reduction_cases();
std::vector<OpCase> linalg_cases();
std::vector<OpCase> shape_cases();
/// Sorting, selection and splitting (sort.cpp, split.cpp).
std::vector<OpCase> sort_cases();
/// Scans and layout ops (op_table_scan.cpp) and contractions (op_table_einsum.cpp).
std::vector<OpCase> scan_cases();
std::vector<OpCase> einsum_cases();
/// nn's losses (nn/functional.h).
std::vector<OpCase> loss_cases();
/// scaled_dot_product_attention (ops.h's attention section).
std::vector<OpCase> attention_cases();
/// masked_fill and masked_select (op_table_mask.cpp).
std::vector<OpCase> mask_op_cases();
/// A CNN's ops: im2col, col2im, conv2d, max_pool2d, batch_norm (op_table_conv.cpp).
std::vector<OpCase> conv_cases();
/// Ops without a gradient (comparisons, argmax, i64 arithmetic): their
/// entries have no grad_inputs and are checked for values only.
std::vector<OpCase> value_only_cases();
/// The predicates and reductions of masks (op_table_mask.cpp), a part of value_only_cases.
std::vector<OpCase> mask_predicate_cases();

// ---- helpers for writing entries (op_table_test.cpp) ------------------------

/// The device t() and ints() create their tensors on: the CPU, unless a test
/// runs the table on another device (backend_cuda_test.cpp).
Device& table_device();
/// An explicit f64 tensor on table_device(): t({1, 2, 3, 4}, {2, 2}).
Tensor t(const std::vector<double>& values, const Shape& shape);
/// An explicit i64 tensor on table_device() (indices, integer arithmetic): ints({0, 2, 0}, {3}).
Tensor ints(const std::vector<double>& values, const Shape& shape);
/// Standard normal f64 values that require grad, each moved at least 0.1 away
/// from every point in `kinks` (where the op is not differentiable).
Tensor rnd(const Shape& shape, const std::vector<double>& kinks = {});
/// Uniform f64 values in [0.5, 2) that require grad (for log, sqrt, pow, ...).
Tensor positive(const Shape& shape);
/// A grad_inputs maker: one rnd() input per shape.
std::function<Inputs()> random_inputs(std::vector<Shape> shapes);
/// The f32 copies of the f64 inputs (index and integer inputs stay as they are).
Inputs to_f32(const Inputs& inputs);
/// `reference` applied to every value: expected values of element-wise ops.
std::vector<double> map(const std::vector<double>& values,
                        const std::function<double(double)>& reference);

}  // namespace tether::op_table
