// The autograd graph.
//
// Every op that has an input requiring grad records one Node: the edges to the
// nodes that produced its inputs, the tensors its backward needs (saved), and
// the backward itself. An op states its backward as a lambda beside its forward
// (see record() and autograd/src/ops/), written with differentiable ops, so
// running backward with create_graph records a graph of the backward too.
//
// Ownership runs one way, from outputs towards inputs: a tensor owns its
// grad_fn, a node owns the edges to its inputs' nodes and its saved tensors. A
// node never owns its own output (SavedTensor drops the output's grad_fn and
// re-attaches it on unpack), so graphs have no reference cycles.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "tether/grad_mode.h"
#include "tether/pool.h"
#include "tether/tensor.h"

namespace tether::autograd {

class Node;
struct GradHooks;

/// A short list of a node's own: its edges, saved tensors and gradients come
/// from the small-object pool (see pool.h), as the node itself does.
template <class T>
using NodeList = std::vector<T, detail::PoolAllocator<T>>;

/// Gradients, one per input of a node (undefined where none flows).
using GradList = NodeList<Tensor>;

/// A tensor kept for backward, with the storage version it had when saved:
/// unpacking after an in-place write, or after the graph was freed, throws.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& tensor, bool is_output);

  /// The saved tensor; an output gets `owner` back as its grad_fn.
  Tensor unpack(const std::shared_ptr<Node>& owner, std::string_view op) const;
  void release() { data_ = Tensor(); }

 private:
  Tensor data_;
  std::uint64_t version_ = 0;
  bool is_output_ = false;
  bool was_defined_ = false;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// The op's name, e.g. "mul" (shown in errors and in to_dot()).
  virtual std::string_view name() const = 0;
  /// Gradients of the inputs from the gradient of the output.
  virtual GradList apply(const Tensor& grad_output) = 0;

  /// The nodes that receive the gradients of this node's inputs, one per input
  /// (null where the input does not require grad).
  const NodeList<std::shared_ptr<Node>>& next_nodes() const { return next_nodes_; }
  /// Whether input `i` needs a gradient.
  bool needs_grad(std::size_t i) const { return next_nodes_[i] != nullptr; }
  /// Saved tensor `i`, checked for staleness. Throws AutogradError if the
  /// graph was freed by a backward without retain_graph.
  Tensor saved(std::size_t i);

  /// Frees the saved tensors; a later apply() throws. The engine calls this
  /// after running a node unless retain_graph is set or the node is retained
  /// (see retain_graph_of).
  void release();

 protected:
  Node() = default;

 private:
  friend Tensor record_node(std::shared_ptr<Node> node, std::span<const Tensor> inputs,
                            Tensor output, std::span<const Tensor> saved);
  friend void retain_graph_of(const Tensor& output);
  friend std::shared_ptr<GradHooks> hooks_of(const Tensor& tensor);
  friend class Engine;

  /// The register_hook hooks on the gradient arriving here, or null: a node's
  /// own for its output, a leaf's for its accumulator (see AccumulateGrad).
  virtual const GradHooks* grad_hooks() const { return hooks_.get(); }

  NodeList<std::shared_ptr<Node>> next_nodes_;
  std::shared_ptr<GradHooks> hooks_;  // made by the first register_hook on the output
  NodeList<SavedTensor> saved_;
  bool released_ = false;
  bool retained_ = false;  // set on a whole subgraph at once: a retained node's inputs are too

  // Engine bookkeeping for the backward pass in progress.
  std::uint64_t visit_stamp_ = 0;
  std::uint32_t pending_ = 0;
  bool needed_ = false;
  Tensor grad_buffer_;
};

/// A node whose backward is a lambda `GradList(Node& node, const Tensor& grad)`.
/// The lambda may capture plain values (shapes, dims, scalars) but never a
/// Tensor: tensors go through `saved` so that they are version-checked and freed.
template <class Backward>
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string_view name, Backward backward)
      : name_(name), backward_(std::move(backward)) {}
  std::string_view name() const override { return name_; }
  GradList apply(const Tensor& grad_output) override { return backward_(*this, grad_output); }

 private:
  std::string_view name_;
  Backward backward_;
};

/// Whether an op on these inputs must record a node.
bool needs_recording(std::span<const Tensor> inputs);

/// Connects `node` to the graph: edges from the inputs, saved tensors, and
/// `output` gets the node as its grad_fn. Returns `output`.
Tensor record_node(std::shared_ptr<Node> node, std::span<const Tensor> inputs, Tensor output,
                   std::span<const Tensor> saved);

/// Records `output = op(inputs)` with its backward, if grad mode is on and an
/// input requires grad; otherwise returns `output` untouched. `name` must be a
/// string literal.
///
///   Tensor y = kernel_exp(x);
///   return record("exp", {x}, y, {y}, [](Node& n, const Tensor& g) -> GradList {
///     return {g * n.saved(0)};
///   });
template <class Backward>
Tensor record(std::string_view name, std::span<const Tensor> inputs, Tensor output,
              std::span<const Tensor> saved, Backward&& backward) {
  if (!needs_recording(inputs)) return output;
  auto node = detail::make_pooled<FunctionNode<std::decay_t<Backward>>>(
      name, std::forward<Backward>(backward));
  return record_node(std::move(node), inputs, std::move(output), saved);
}

template <class Backward>
Tensor record(std::string_view name, std::initializer_list<Tensor> inputs, Tensor output,
              std::initializer_list<Tensor> saved, Backward&& backward) {
  return record(name, std::span<const Tensor>(inputs.begin(), inputs.size()), std::move(output),
                std::span<const Tensor>(saved.begin(), saved.size()),
                std::forward<Backward>(backward));
}

/// Marks every node of `output`'s graph, down to the leaves, as retained: a
/// backward without retain_graph runs them but keeps their saved tensors, so
/// every graph built on `output` can backward through them. They are freed
/// with the last tensor or graph that owns them, as any node is. A computed
/// parameter retains its cached value's graph, which all its uses share.
void retain_graph_of(const Tensor& output);

}  // namespace tether::autograd
