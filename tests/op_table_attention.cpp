// Op table: scaled_dot_product_attention (autograd/src/ops/attention.cpp).
// The values are chosen so that every row's scores are 0 and log 3 (weights
// 1/4 and 3/4) or equal (1/2 each). tests/autograd_attention_test.cpp checks
// the op against its composition from matmul and softmax, and its dropout.
#include <cmath>

#include "op_table.h"

namespace tether::op_table {

std::vector<OpCase> attention_cases() {
  const double log3 = std::log(3.0);
  return {
      {.op = "scaled_dot_product_attention",
       .variant = "one query, two keys, scale 1",
       .f =
           [](const Inputs& x) {
             return scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.0, false, 1.0);
           },
       // scores [0, log 3] -> weights [1/4, 3/4] of the value rows [4, 0] and [0, 8].
       .value_inputs = {t({1, 0}, {1, 2}), t({0, 0, log3, 0}, {2, 2}), t({4, 0, 0, 8}, {2, 2})},
       .expected = t({1, 6}, {1, 2}),
       .grad_inputs = random_inputs({{3, 2}, {4, 2}, {4, 3}})},
      {.op = "scaled_dot_product_attention",
       .variant = "a batch of 2, default scale 1 / sqrt(1)",
       .f = [](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
       .value_inputs = {t({0, 1, 1, 0}, {2, 2, 1}), t({0, log3, log3, 0}, {2, 2, 1}),
                        t({1, 5, 2, 6}, {2, 2, 1})},
       // Batch 0: rows [1/2, 1/2] and [1/4, 3/4] of [1, 5]; batch 1: [3/4, 1/4] and [1/2, 1/2] of
       // [2, 6].
       .expected = t({3, 4, 3, 4}, {2, 2, 1}),
       // Keys and values shared by the batch: their gradients sum over it.
       .grad_inputs = random_inputs({{2, 3, 4}, {5, 4}, {5, 2}})},
      {.op = "scaled_dot_product_attention",
       .variant = "causal",
       .f =
           [](const Inputs& x) {
             return scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.0, true);
           },
       // Query 0 sees key 0 only; query 1 scores [0, log 3].
       .value_inputs = {t({5, 1}, {2, 1}), t({0, log3}, {2, 1}), t({2, 6}, {2, 1})},
       .expected = t({2, 5}, {2, 1}),
       .grad_inputs = random_inputs({{2, 4, 3}, {2, 5, 3}, {2, 5, 2}})},
      {.op = "scaled_dot_product_attention",
       .variant = "additive mask [L, S] broadcast over the batch",
       .f = [](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2], x[3]); },
       // Equal scores; the mask adds [0, log 3].
       .value_inputs = {t({1}, {1, 1}), t({0, 0}, {2, 1}), t({4, 8}, {2, 1}), t({0, log3}, {1, 2})},
       .expected = t({7}, {1, 1}),
       .grad_inputs = random_inputs({{2, 3, 4}, {2, 5, 4}, {2, 5, 3}, {3, 5}})},
  };
}

}  // namespace tether::op_table
