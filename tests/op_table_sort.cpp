// Op table: sorting, selection and splitting (autograd/src/ops/sort.cpp and
// split.cpp). The values' gradients go back to the positions they came from;
// the indices (argsort, argmin) are in op_table_value_only.cpp; the order of
// ties and NaN, and parts that get no gradient, in autograd_sort_split_test.cpp.
#include <algorithm>

#include "op_table.h"

namespace tether::op_table {

namespace {

/// [[3, 1, 2], [-1, 5, 0]]: distinct values, in no order along either dim.
Tensor x23() {
  return t({3.0, 1.0, 2.0, -1.0, 5.0, 0.0}, {2, 3});
}

/// [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15]], for the splits.
Tensor x53() {
  std::vector<double> values(15);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i + 1);
  return t(values, {5, 3});
}

/// The parts in reverse order, joined along dim (stacked for unbind's, which
/// lost it), so that a gradient sent to the wrong part shows. Without parts
/// (unbind of an empty dim) it is x itself, the shape an empty stack would have.
Tensor reversed(std::vector<Tensor> parts, std::int64_t dim, bool stacked, const Tensor& x) {
  if (parts.empty()) return x;
  std::reverse(parts.begin(), parts.end());
  return stacked ? stack(parts, dim) : cat(parts, dim);
}

const auto kRandom23 = random_inputs({{2, 3}});
const auto kRandom53 = random_inputs({{5, 3}});

std::vector<OpCase> selection_cases() {
  return {
      {.op = "sort",
       .variant = "values along dim -1",
       .f = [](const Inputs& x) { return sort(x[0]).values; },
       .value_inputs = {x23()},
       .expected = t({1.0, 2.0, 3.0, -1.0, 0.0, 5.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "sort",
       .variant = "values along dim 0, descending, of a transposed [3, 2]",
       .f = [](const Inputs& x) { return sort(transpose(x[0], 0, 1), 0, true).values; },
       .value_inputs = {x23()},
       .expected = t({3.0, 5.0, 2.0, 0.0, 1.0, -1.0}, {3, 2}),
       .grad_inputs = kRandom23},
      {.op = "topk",
       .variant = "k 2 along dim -1",
       .f = [](const Inputs& x) { return topk(x[0], 2).values; },
       .value_inputs = {x23()},
       .expected = t({3.0, 2.0, 5.0, 0.0}, {2, 2}),
       .grad_inputs = kRandom23},
      {.op = "topk",
       .variant = "k 1 along dim 0, smallest",
       .f = [](const Inputs& x) { return topk(x[0], 1, 0, false).values; },
       .value_inputs = {x23()},
       .expected = t({-1.0, 1.0, 0.0}, {1, 3}),
       .grad_inputs = kRandom23},
      {.op = "max",
       .variant = "values along dim 1",
       .f = [](const Inputs& x) { return max(x[0], 1).values; },
       .value_inputs = {x23()},
       .expected = t({3.0, 5.0}, {2}),
       .grad_inputs = kRandom23},
      {.op = "max",
       .variant = "values along dim -2, keepdim",
       .f = [](const Inputs& x) { return max(x[0], -2, true).values; },
       .value_inputs = {x23()},
       .expected = t({3.0, 5.0, 2.0}, {1, 3}),
       .grad_inputs = kRandom23},
      {.op = "min",
       .variant = "values along dim 1",
       .f = [](const Inputs& x) { return min(x[0], 1).values; },
       .value_inputs = {x23()},
       .expected = t({1.0, -1.0}, {2}),
       .grad_inputs = kRandom23},
      {.op = "min",
       .variant = "values along dim 0, keepdim",
       .f = [](const Inputs& x) { return min(x[0], 0, true).values; },
       .value_inputs = {x23()},
       .expected = t({-1.0, 1.0, 0.0}, {1, 3}),
       .grad_inputs = kRandom23},
  };
}

std::vector<OpCase> split_cases() {
  return {
      {.op = "split",
       .variant = "split_size 2 along dim 0 (parts 2, 2, 1)",
       .f = [](const Inputs& x) { return reversed(split(x[0], 2), 0, false, x[0]); },
       .value_inputs = {x53()},
       .expected = t({13, 14, 15, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6}, {5, 3}),
       .grad_inputs = kRandom53},
      {.op = "split",
       .variant = "sections [1, 2] along dim -1",
       .f =
           [](const Inputs& x) {
             return reversed(split(x[0], {1, 2}, -1), -1, false, x[0]);
           },
       .value_inputs = {x23()},
       .expected = t({1.0, 2.0, 3.0, 5.0, 0.0, -1.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "chunk",
       .variant = "3 chunks along dim 0 (parts 2, 2, 1)",
       .f = [](const Inputs& x) { return reversed(chunk(x[0], 3), 0, false, x[0]); },
       .value_inputs = {x53()},
       .expected = t({13, 14, 15, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6}, {5, 3}),
       .grad_inputs = kRandom53},
      {.op = "chunk",
       .variant = "2 chunks along dim 1 (parts 2, 1)",
       .f = [](const Inputs& x) { return reversed(chunk(x[0], 2, 1), 1, false, x[0]); },
       .value_inputs = {x23()},
       .expected = t({2.0, 3.0, 1.0, 0.0, -1.0, 5.0}, {2, 3}),
       .grad_inputs = kRandom23},
      {.op = "unbind",
       .variant = "dim 0, stacked back in reverse",
       .f = [](const Inputs& x) { return reversed(unbind(x[0]), 0, true, x[0]); },
       .value_inputs = {x23()},
       .expected = t({-1.0, 5.0, 0.0, 3.0, 1.0, 2.0}, {2, 3}),
       .grad_inputs = kRandom23},
  };
}

}  // namespace

std::vector<OpCase> sort_cases() {
  std::vector<OpCase> cases = selection_cases();
  for (auto& c : split_cases()) cases.push_back(std::move(c));
  return cases;
}

}  // namespace tether::op_table
