// What the engine (engine.cpp) and the graph export (graphviz.cpp) need of the
// graph beyond node.h's public contract; defined in node.cpp.
#pragma once

#include <memory>

#include "tether/node.h"

namespace tether::autograd {

/// `grad`, recorded as a function of `input` whose derivative is zero. With
/// create_graph, a gradient that no recorded op connects to the graph (relu's
/// is a constant mask times a constant) is still a function of its input, one
/// that is locally constant; recording it so makes a second derivative zero
/// instead of an error.
Tensor with_zero_derivative(const Tensor& grad, const Tensor& input);

/// Whether no other tensor, view or node refers to t's data, so that it may be
/// updated in place or handed on without a copy.
bool uniquely_owned(const Tensor& t);

/// The node that accumulates into a leaf's grad(); one per leaf, shared by all
/// uses of the leaf.
std::shared_ptr<Node> grad_accumulator(const Tensor& leaf);

/// Whether `node` accumulates into a leaf (and which one).
const TensorImpl* accumulated_leaf(const Node& node);

}  // namespace tether::autograd
