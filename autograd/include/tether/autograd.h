// The engine's entry points beyond Tensor::backward().
#pragma once

#include <functional>
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

/// Runs `callback` once the backward (or grad) in progress on this thread has
/// run every node, before it returns, as torch's
/// Variable._execution_engine.queue_callback: what a hook starts during
/// backward (a distributed gradient reduction) can be finished there.
/// Callbacks run in the order queued; one may queue another. Throws
/// AutogradError when no backward is running on this thread.
void queue_callback(std::function<void()> callback);

/// d f(x) / d x as a tensor of shape f(x).shape() + x.shape(), as
/// torch.autograd.functional.jacobian: one backward per element of f(x),
/// zeros where f(x) does not depend on x. With create_graph the result is
/// differentiable (in x, when x requires grad); otherwise it is detached.
/// Throws DTypeError for an integer x.
Tensor jacobian(const std::function<Tensor(const Tensor&)>& f, const Tensor& x,
                bool create_graph = false);

/// The matrix of second derivatives of a function with one output element, of
/// shape x.shape() + x.shape(): the Jacobian of its gradient. For small inputs
/// (a Laplace approximation's parameters): it costs x.numel() backwards.
/// Throws ShapeError when f(x) has more than one element.
Tensor hessian(const std::function<Tensor(const Tensor&)>& f, const Tensor& x);

/// The graph behind `root` in Graphviz dot format: one box per recorded op,
/// leaves highlighted with their shapes, edges pointing from inputs to the ops
/// that consumed them. Render with `dot -Tsvg`.
std::string to_dot(const Tensor& root);

}  // namespace tether::autograd
