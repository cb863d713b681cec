// The engine's entry points beyond Tensor::backward().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tether/tensor.h"

namespace tether::autograd {

/// Backpropagates from `outputs`, seeded with `grad_outputs` (ones for an
/// empty list; each output then must have one element), accumulating into the
/// grad() of every leaf that requires grad. Saved tensors are freed unless
/// retain_graph; with create_graph the backward is recorded for higher-order
/// gradients (and the graph retained).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

/// The gradients of `outputs` with respect to `inputs`, returned instead of
/// accumulated into grad(), as torch.autograd.grad does. An input the outputs
/// do not depend on throws unless allow_unused (then its entry is undefined).
/// retain_graph defaults to create_graph.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
                         bool allow_unused = false);

/// The graph behind `root` in Graphviz dot format: one box per recorded op,
/// leaves highlighted with their shapes, edges pointing from inputs to the ops
/// that consumed them. Render with `dot -Tsvg`.
std::string to_dot(const Tensor& root);

}  // namespace tether::autograd
