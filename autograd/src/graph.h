// What the engine (engine.cpp) and the graph export (graphviz.cpp) need of the
// graph beyond node.h's public contract; defined in node.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

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

/// The hooks registered on one tensor (hooks.cpp): a leaf keeps them in its
/// TensorImpl, so they outlive any one graph; a non-leaf's live on its grad_fn.
struct GradHooks {
  template <class Fn>
  using List = std::vector<std::pair<std::uint64_t, Fn>>;  // by id, in registration order

  List<std::function<Tensor(const Tensor&)>> on_grad;
  List<std::function<void(const Tensor&)>> post_accumulate;
  std::uint64_t next_id = 0;

  /// `grad` passed through the on_grad hooks, each getting the last one's result.
  Tensor run_on_grad(Tensor grad) const;
  /// Calls the post-accumulate hooks with `leaf`.
  void run_post_accumulate(const Tensor& leaf) const;
};

/// `tensor`'s hooks, made on first use: its TensorImpl's for a leaf, its
/// grad_fn's for a non-leaf.
std::shared_ptr<GradHooks> hooks_of(const Tensor& tensor);

}  // namespace tether::autograd
