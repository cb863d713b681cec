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
//
// Most ops have one output. An op with several (split, chunk, unbind) records
// one node for all of them with record_outputs(): each output tensor knows its
// index (TensorImpl::output_nr), each edge names the output of the node it
// leads to, and the engine keeps one gradient per output, so one backward call
// receives all of them at once.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tether/grad_mode.h"
#include "tether/pool.h"
#include "tether/tensor.h"

namespace tether::autograd {

class Node;
struct GradHooks;

/// Where an input's gradient goes: the node that produced the input, and which
/// of that node's outputs the input is.
struct Edge {
  std::shared_ptr<Node> node;   ///< null where the input does not require grad
  std::uint32_t output_nr = 0;  ///< 0 unless the node has several outputs
};

/// A short list of a node's own: its edges, saved tensors and gradients come
/// from the small-object pool (see pool.h), as the node itself does.
template <class T>
using NodeList = std::vector<T, detail::PoolAllocator<T>>;

/// Gradients, one per input (or output) of a node; undefined where none flows.
using GradList = NodeList<Tensor>;

/// A tensor kept for backward, with the storage version it had when saved:
/// unpacking after an in-place write, or after the graph was freed, throws.
class SavedTensor {
 public:
  SavedTensor() = default;
  /// `output_nr` is the index among the saving node's outputs, if tensor is one.
  SavedTensor(const Tensor& tensor, std::optional<std::uint32_t> output_nr);

  /// The saved tensor; an output gets `owner` back as its grad_fn.
  Tensor unpack(const std::shared_ptr<Node>& owner, std::string_view op) const;
  void release() { data_ = Tensor(); }

 private:
  Tensor data_;
  std::uint64_t version_ = 0;
  std::optional<std::uint32_t> output_nr_;
  bool was_defined_ = false;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// The op's name, e.g. "mul" (shown in errors and in to_dot()).
  virtual std::string_view name() const = 0;
  /// Gradients of the inputs from the gradients of the outputs, one per output
  /// (a one-output node always gets a defined one; a node with several gets
  /// an undefined one for each output no gradient reached).
  virtual GradList apply(std::span<const Tensor> grad_outputs) = 0;

  /// The edges to the nodes that receive the gradients of this node's inputs,
  /// one per input (with a null node where the input does not require grad).
  const NodeList<Edge>& next_edges() const { return next_edges_; }
  /// Whether input `i` needs a gradient.
  bool needs_grad(std::size_t i) const { return next_edges_[i].node != nullptr; }
  /// How many outputs the op had (1 unless recorded by record_outputs).
  std::uint32_t num_outputs() const { return static_cast<std::uint32_t>(grad_buffers_.size()); }
  /// Saved tensor `i`, checked for staleness. Throws AutogradError if the
  /// graph was freed by a backward without retain_graph.
  Tensor saved(std::size_t i);

  /// Frees the saved tensors; a later apply() throws. The engine calls this
  /// after running a node unless retain_graph is set or the node is retained
  /// (see retain_graph_of).
  void release();

 protected:
  explicit Node(std::uint32_t num_outputs = 1) : grad_buffers_(num_outputs) {}

 private:
  friend void record_node(const std::shared_ptr<Node>& node, std::span<const Tensor> inputs,
                          std::span<const Tensor> outputs, std::span<const Tensor> saved);
  friend void retain_graph_of(const Tensor& output);
  friend std::shared_ptr<GradHooks> hooks_of(const Tensor& tensor);
  friend class Engine;

  /// The register_hook hooks on the gradient arriving at output `output_nr`,
  /// or null: a node's own for its outputs, a leaf's for its accumulator (see
  /// AccumulateGrad).
  virtual const GradHooks* grad_hooks(std::uint32_t output_nr) const {
    return output_nr < hooks_.size() ? hooks_[output_nr].get() : nullptr;
  }

  NodeList<Edge> next_edges_;
  // One slot per output, each made by the first register_hook on that output.
  std::vector<std::shared_ptr<GradHooks>> hooks_;
  NodeList<SavedTensor> saved_;
  bool released_ = false;
  bool retained_ = false;  // set on a whole subgraph at once: a retained node's inputs are too

  // Engine bookkeeping for the backward pass in progress.
  std::uint64_t visit_stamp_ = 0;
  std::uint32_t pending_ = 0;
  bool needed_ = false;
  GradList grad_buffers_;  // one per output, summed from the edges into it
};

/// A node whose backward is a lambda: `GradList(Node& node, const Tensor& grad)`
/// for one output, `GradList(Node& node, std::span<const Tensor> grads)` for
/// several. The lambda may capture plain values (shapes, dims, scalars) but
/// never a Tensor: tensors go through `saved` so that they are version-checked
/// and freed.
template <class Backward>
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string_view name, std::uint32_t num_outputs, Backward backward)
      : Node(num_outputs), name_(name), backward_(std::move(backward)) {}
  std::string_view name() const override { return name_; }
  GradList apply(std::span<const Tensor> grad_outputs) override {
    if constexpr (std::is_invocable_v<Backward&, Node&, const Tensor&>)
      return backward_(*this, grad_outputs[0]);
    else
      return backward_(*this, grad_outputs);
  }

 private:
  std::string_view name_;
  Backward backward_;
};

/// Whether an op on these inputs must record a node.
bool needs_recording(std::span<const Tensor> inputs);

/// Connects `node` to the graph: edges from the inputs, saved tensors, and
/// output k gets the node as its grad_fn, with output_nr k.
void record_node(const std::shared_ptr<Node>& node, std::span<const Tensor> inputs,
                 std::span<const Tensor> outputs, std::span<const Tensor> saved);

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
      name, 1, std::forward<Backward>(backward));
  record_node(node, inputs, std::span<const Tensor>(&output, 1), saved);
  return output;
}

template <class Backward>
Tensor record(std::string_view name, std::initializer_list<Tensor> inputs, Tensor output,
              std::initializer_list<Tensor> saved, Backward&& backward) {
  return record(name, std::span<const Tensor>(inputs.begin(), inputs.size()), std::move(output),
                std::span<const Tensor>(saved.begin(), saved.size()),
                std::forward<Backward>(backward));
}

/// Records `outputs = op(inputs)` as one node with several outputs, whose
/// backward `GradList(Node&, std::span<const Tensor> grads)` gets one gradient
/// per output (undefined where none flows) and returns one per input. As
/// record(), it returns `outputs` untouched when nothing needs recording.
///
///   std::vector<Tensor> parts = {narrowed views of x ...};
///   return record_outputs("split", {x}, std::move(parts), {},
///                         [dim](Node&, std::span<const Tensor> g) -> GradList {
///                           return {cat(g with zeros for the undefined, dim)};
///                         });
template <class Backward>
std::vector<Tensor> record_outputs(std::string_view name, std::initializer_list<Tensor> inputs,
                                   std::vector<Tensor> outputs, std::initializer_list<Tensor> saved,
                                   Backward&& backward) {
  const std::span<const Tensor> input_span(inputs.begin(), inputs.size());
  if (!needs_recording(input_span)) return outputs;
  auto node = detail::make_pooled<FunctionNode<std::decay_t<Backward>>>(
      name, static_cast<std::uint32_t>(outputs.size()), std::forward<Backward>(backward));
  record_node(node, input_span, outputs, std::span<const Tensor>(saved.begin(), saved.size()));
  return outputs;
}

/// Marks every node of `output`'s graph, down to the leaves, as retained: a
/// backward without retain_graph runs them but keeps their saved tensors, so
/// every graph built on `output` can backward through them. They are freed
/// with the last tensor or graph that owns them, as any node is. A computed
/// parameter retains its cached value's graph, which all its uses share.
void retain_graph_of(const Tensor& output);

}  // namespace tether::autograd
