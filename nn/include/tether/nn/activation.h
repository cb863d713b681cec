// Activations and reshaping as modules, for Sequential: each forwards to the
// op of the same name in tether/ops.h, which documents it.
#pragma once

#include <cstdint>

#include "tether/nn/module.h"
#include "tether/ops.h"

namespace tether::nn {

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class Tanh : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

class Sigmoid : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

/// Exact GELU, x * Phi(x).
class GELU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return gelu(x); }
};

/// x * sigmoid(x) (swish), as torch.nn.SiLU.
class SiLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return x * sigmoid(x); }
};

/// x * tanh(softplus(x)) (Misra, 2019), as torch.nn.Mish.
class Mish : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return x * tanh(softplus(x)); }
};

/// x itself, as torch.nn.Identity: a placeholder where a layer is optional.
class Identity : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return x; }
};

/// x for x >= 0, negative_slope * x below.
class LeakyReLU : public UnaryModule {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }

  double negative_slope;
};

/// Softmax along `dim` (negative counts from the end).
class Softmax : public UnaryModule {
 public:
  explicit Softmax(std::int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& x) override { return softmax(x, dim); }

  std::int64_t dim;
};

/// log(softmax) along `dim`, computed without the softmax's underflow.
class LogSoftmax : public UnaryModule {
 public:
  explicit LogSoftmax(std::int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& x) override { return log_softmax(x, dim); }

  std::int64_t dim;
};

/// Merges dims start_dim..end_dim into one; the default keeps the batch dim,
/// [N, C, H, W] -> [N, C * H * W], as torch.nn.Flatten.
class Flatten : public UnaryModule {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1)
      : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return flatten(x, start_dim, end_dim); }

  std::int64_t start_dim;
  std::int64_t end_dim;
};

}  // namespace tether::nn
