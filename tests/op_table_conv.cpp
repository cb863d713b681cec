// Op table: a convolution's patches (autograd/src/ops/conv.cpp). im2col's
// expected columns are read off the input by hand: row (c, i, j) is tap (i, j)
// of channel c, column (n, r, s) the window at output (r, s) of image n.
// col2im's expected images sum, per pixel, the columns whose taps read it.
// conv2d's expected values come from all-ones images, where each output
// counts the taps inside the image; max_pool2d's from reading the windows;
// batch_norm's from each channel's mean and variance worked out by hand.
#include <cmath>

#include "op_table.h"

namespace tether::op_table {

namespace {

/// 1, 2, ..., n as a tensor of `shape` (n its element count).
Tensor counting(const Shape& shape) {
  std::vector<double> values(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i + 1);
  return t(values, shape);
}

const ConvWindow k2{{2, 2}};
const ConvWindow k2_stride2_pad1{{2, 2}, {2, 2}, {1, 1}};
const ConvWindow k12_dilation2{{1, 2}, {1, 1}, {0, 0}, {1, 2}};
const ConvWindow mixed{{2, 3}, {1, 2}, {1, 0}, {2, 1}};

}  // namespace

std::vector<OpCase> conv_cases() {
  return {
      {.op = "im2col",
       .variant = "2x2 windows of a 3x3 image",
       .f = [](const Inputs& x) { return im2col(x[0], k2); },
       .value_inputs = {counting({1, 1, 3, 3})},
       .expected = t({1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9}, {4, 4}),
       .grad_inputs = random_inputs({{1, 1, 3, 3}})},
      {.op = "im2col",
       .variant = "stride 2, padding 1, two images",
       .f = [](const Inputs& x) { return im2col(x[0], k2_stride2_pad1); },
       .value_inputs = {counting({2, 1, 2, 2})},
       .expected = t({0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 3, 0, 0, 0, 7, 0,  //
                      0, 2, 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0},
                     {4, 8}),
       .grad_inputs = random_inputs({{2, 1, 2, 2}})},
      {.op = "im2col",
       .variant = "kernel 1x2 with dilation 2, two channels",
       .f = [](const Inputs& x) { return im2col(x[0], k12_dilation2); },
       .value_inputs = {counting({1, 2, 3, 3})},
       .expected = t({1, 4, 7, 3, 6, 9, 10, 13, 16, 12, 15, 18}, {4, 3}),
       .grad_inputs = random_inputs({{1, 2, 3, 3}})},
      {.op = "im2col",
       .variant =
           "kernel 2x3, stride (1, 2), padding (1, 0), dilation (2, 1), of a transposed input",
       .f = [](const Inputs& x) { return im2col(transpose(x[0], 2, 3), mixed); },
       .value_inputs = {t({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 1, 4, 3})},
       // H_out = (3 + 2 - 2 - 1) / 1 + 1 = 3, W_out = (4 - 2 - 1) / 2 + 1 = 1; the
       // image is [[1, 4, 7, 10], [2, 5, 8, 11], [3, 6, 9, 12]], taps (i, j) read
       // row r + 2 i - 1 and column j.
       .expected = t({0, 1, 2, 0, 4, 5, 0, 7, 8, 2, 3, 0, 5, 6, 0, 8, 9, 0}, {6, 3}),
       .grad_inputs = random_inputs({{2, 1, 4, 3}})},
      {.op = "col2im",
       .variant = "2x2 windows of a 3x3 image",
       .f =
           [](const Inputs& x) {
             return col2im(x[0], {1, 1, 3, 3}, k2);
           },
       .value_inputs = {counting({4, 4})},
       .expected = t({1, 7, 6, 12, 34, 22, 11, 27, 16}, {1, 1, 3, 3}),
       .grad_inputs = random_inputs({{4, 4}})},
      {.op = "col2im",
       .variant = "stride 2, padding 1: padding taps are dropped",
       .f =
           [](const Inputs& x) {
             return col2im(x[0], {1, 1, 2, 2}, k2_stride2_pad1);
           },
       .value_inputs = {counting({4, 4})},
       .expected = t({13, 10, 7, 4}, {1, 1, 2, 2}),
       .grad_inputs = random_inputs({{4, 4}})},
      {.op = "col2im",
       .variant = "kernel 2x3, stride (1, 2), padding (1, 0), dilation (2, 1), two images",
       .f =
           [](const Inputs& x) {
             return col2im(x[0], {2, 1, 3, 4}, mixed);
           },
       .value_inputs = {zeros({6, 6}, DType::f64)},
       .expected = zeros({2, 1, 3, 4}, DType::f64),
       .grad_inputs = random_inputs({{6, 6}})},
      {.op = "conv2d",
       .variant = "2x2 kernel, with bias",
       .f = [](const Inputs& x) { return conv2d(x[0], x[1], x[2]); },
       // Each output is x[r, s] - x[r + 1, s + 1] = -4, plus the bias 0.5.
       .value_inputs = {counting({1, 1, 3, 3}), t({1, 0, 0, -1}, {1, 1, 2, 2}), t({0.5}, {1})},
       .expected = t({-3.5, -3.5, -3.5, -3.5}, {1, 1, 2, 2}),
       .grad_inputs = random_inputs({{3, 2, 4, 3}, {3, 2, 2, 2}, {3}})},
      {.op = "conv2d",
       .variant = "groups 2, padding 1, no bias",
       .f =
           [](const Inputs& x) {
             return conv2d(x[0], x[1], {}, {1, 1}, {1, 1}, {1, 1}, 2);
           },
       // Over the padded 2x2 image a 2x2 window holds 1 pixel at the corners,
       // 2 on the edges, 4 in the middle.
       .value_inputs = {ones({1, 2, 2, 2}, DType::f64), ones({2, 1, 2, 2}, DType::f64)},
       .expected = t({1, 2, 1, 2, 4, 2, 1, 2, 1, 1, 2, 1, 2, 4, 2, 1, 2, 1}, {1, 2, 3, 3}),
       .grad_inputs = random_inputs({{2, 4, 3, 3}, {4, 2, 2, 2}})},
      {.op = "conv2d",
       .variant = "stride (2, 1), padding (1, 0), dilation (1, 2), groups 2, with bias",
       .f =
           [](const Inputs& x) {
             return conv2d(x[0], x[1], x[2], {2, 1}, {1, 0}, {1, 2}, 2);
           },
       // H_out = (3 + 2 - 1 - 1) / 2 + 1 = 2, W_out = 4 - 2 = 2; output row 0's
       // taps read rows -1 and 0 (one inside), row 1's rows 1 and 2; columns
       // s and s + 2 are both inside: 2 and 4 taps, plus each output's bias.
       .value_inputs = {ones({1, 2, 3, 4}, DType::f64), ones({4, 1, 2, 2}, DType::f64),
                        t({1, 2, 3, 4}, {4})},
       .expected = t({3, 3, 5, 5, 4, 4, 6, 6, 5, 5, 7, 7, 6, 6, 8, 8}, {1, 4, 2, 2}),
       .grad_inputs = random_inputs({{3, 2, 5, 6}, {4, 1, 2, 2}, {4}})},
      {.op = "max_pool2d",
       .variant = "2x2 windows, stride 1",
       .f =
           [](const Inputs& x) {
             return max_pool2d(x[0], {{2, 2}});
           },
       .value_inputs = {t({1, 5, 2, 4, 3, 9, 7, 6, 8}, {1, 1, 3, 3})},
       .expected = t({5, 9, 7, 9}, {1, 1, 2, 2}),
       .grad_inputs = random_inputs({{2, 3, 4, 5}})},
      {.op = "max_pool2d",
       .variant = "3x3 windows, stride 2, padding 1",
       .f =
           [](const Inputs& x) {
             return max_pool2d(x[0], {{3, 3}, {2, 2}, {1, 1}});
           },
       // Windows cover rows (and columns) -1..1 and 1..3 of 1..16 as a 4x4 image.
       .value_inputs = {counting({1, 1, 4, 4})},
       .expected = t({6, 8, 14, 16}, {1, 1, 2, 2}),
       .grad_inputs = random_inputs({{2, 2, 5, 5}})},
      {.op = "max_pool2d",
       .variant = "2x2 windows dilated 2, two channels",
       .f =
           [](const Inputs& x) {
             return max_pool2d(x[0], {{2, 2}, {1, 1}, {0, 0}, {2, 2}});
           },
       // The one window's taps are the image's corners.
       .value_inputs = {counting({1, 2, 3, 3})},
       .expected = t({9, 18}, {1, 2, 1, 1}),
       .grad_inputs = random_inputs({{1, 2, 4, 4}})},
      {.op = "batch_norm",
       .variant = "one channel of four values, with weight and bias",
       .f = [](const Inputs& x) { return batch_norm(x[0], x[1], x[2])[0]; },
       // Mean 2.5, biased variance 1.25; times weight 2, plus bias 0.5.
       .value_inputs = {counting({2, 1, 1, 2}), t({2}, {1}), t({0.5}, {1})},
       .expected = t(map({-1.5, -0.5, 0.5, 1.5},
                         [](double d) { return d / std::sqrt(1.25 + 1e-5) * 2 + 0.5; }),
                     {2, 1, 1, 2}),
       .grad_inputs = random_inputs({{3, 2, 2, 2}, {2}, {2}})},
      {.op = "batch_norm",
       .variant = "[3, 2, 2], no weight or bias",
       .f = [](const Inputs& x) { return batch_norm(x[0], {}, {}, 0.1)[0]; },
       // Channel 0 holds 1, 2, 5, 6, 9, 10 (mean 5.5), channel 1 those plus 2
       // (mean 7.5); both have the biased variance 65.5 / 6.
       .value_inputs = {counting({3, 2, 2})},
       .expected = t(map({-4.5, -3.5, -4.5, -3.5, -0.5, 0.5, -0.5, 0.5, 3.5, 4.5, 3.5, 4.5},
                         [](double d) { return d / std::sqrt(65.5 / 6 + 0.1); }),
                     {3, 2, 2}),
       .grad_inputs = random_inputs({{3, 2, 2}})},
  };
}

}  // namespace tether::op_table
