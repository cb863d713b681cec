#include "graph.h"

#include <typeinfo>

#include "tether/capture.h"
#include "tether/error.h"
#include "tether/ops.h"
#include "tether/release.h"

namespace tether::autograd {

SavedTensor::SavedTensor(const Tensor& tensor, std::optional<std::uint32_t> output_nr)
    : output_nr_(output_nr), was_defined_(tensor.defined()) {
  if (!tensor.defined()) return;
  version_ = tensor.version();
  if (!output_nr) {
    data_ = tensor;
    return;
  }
  // Keep the output's data but not its grad_fn (which is the saving node).
  data_ = Tensor::view_of(tensor, tensor.shape(), tensor.strides(), tensor.storage_offset());
  data_.impl()->requires_grad = tensor.requires_grad();
}

Tensor SavedTensor::unpack(const std::shared_ptr<Node>& owner, std::string_view op) const {
  if (!was_defined_) return {};
  if (!data_.defined())
    fail<AutogradError>(op, ": trying to backward through the graph a second time (its saved ",
                        "tensors were freed); pass retain_graph=true to the first backward");
  if (data_.version() != version_)
    fail<AutogradError>(op, ": a tensor needed for its gradient was modified by an in-place ",
                        "operation (version ", version_, " when saved, ", data_.version(), " now)");
  if (!output_nr_ || !data_.requires_grad()) return data_;
  Tensor output = Tensor::view_of(data_, data_.shape(), data_.strides(), data_.storage_offset());
  output.impl()->requires_grad = true;
  output.impl()->grad_fn = owner;
  output.impl()->output_nr = *output_nr_;
  return output;
}

Node::~Node() {
  // Dropping a node may drop the whole graph behind it: release it iteratively.
  // (Saved tensors release their own grad_fn iteratively in ~TensorImpl.)
  for (auto& next : next_edges_) detail::release_iteratively(std::move(next.node));
}

Tensor Node::saved(std::size_t i) {
  if (released_)
    fail<AutogradError>(name(), ": trying to backward through the graph a second time (its saved ",
                        "tensors were freed); pass retain_graph=true to the first backward");
  return saved_[i].unpack(shared_from_this(), name());
}

void Node::release() {
  released_ = true;
  saved_.clear();
}

bool needs_recording(std::span<const Tensor> inputs) {
  if (!is_grad_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record_node(const std::shared_ptr<Node>& node, std::span<const Tensor> inputs,
                 std::span<const Tensor> outputs, std::span<const Tensor> saved) {
  node->next_edges_.reserve(inputs.size());
  for (const auto& input : inputs) {
    if (!input.defined() || !input.requires_grad())
      node->next_edges_.emplace_back();
    else if (input.is_leaf())
      node->next_edges_.push_back({grad_accumulator(input), 0});
    else
      node->next_edges_.push_back({input.grad_fn(), input.impl()->output_nr});
  }
  // Mark the outputs first: a saved output remembers requires_grad, and unpack
  // re-attaches its grad_fn only if set (else double backward sees a constant).
  for (const auto& output : outputs) output.impl()->requires_grad = true;
  node->saved_.reserve(saved.size());
  for (const auto& t : saved) {
    std::optional<std::uint32_t> output_nr;
    for (std::uint32_t k = 0; k < outputs.size() && !output_nr; ++k)
      if (t.is_same(outputs[k])) output_nr = k;
    node->saved_.emplace_back(t, output_nr);
  }
  for (std::uint32_t k = 0; k < outputs.size(); ++k) {
    outputs[k].impl()->grad_fn = node;
    outputs[k].impl()->output_nr = k;
  }
}

namespace {

/// Accumulates incoming gradients into a leaf's grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::string_view name() const override { return "AccumulateGrad"; }
  const TensorImpl* leaf() const { return leaf_.get(); }
  const GradHooks* grad_hooks(std::uint32_t) const override { return leaf_->hooks.get(); }

  GradList apply(std::span<const Tensor> grad_outputs) override {
    const Tensor& grad = grad_outputs[0];
    if (!(grad.shape() == leaf_->shape) || grad.dtype() != leaf_->dtype)
      fail<AutogradError>("backward: gradient of shape ", grad.shape(), " and dtype ", grad.dtype(),
                          " for a leaf of shape ", leaf_->shape, " and dtype ", leaf_->dtype);
    Tensor current(leaf_->grad);
    if (is_grad_enabled()) {  // create_graph: keep the gradient's own graph
      Tensor sum = current.defined() ? current + grad : grad;
      if (!sum.requires_grad()) sum = with_zero_derivative(sum, Tensor(leaf_));
      store(sum);
    } else if (current.defined()) {
      current.add_(grad);
    } else {
      store(uniquely_owned(grad) && !grad.requires_grad() ? grad.detach() : grad.clone());
    }
    // The engine runs this node once, after every gradient for the leaf has
    // arrived, so grad() is complete here.
    if (leaf_->hooks) leaf_->hooks->run_post_accumulate(Tensor(leaf_));
    return {};
  }

 private:
  /// Makes `grad` the leaf's grad(); a host action, so that a replay of a
  /// captured step hands the leaf its gradient again (capture.h).
  void store(const Tensor& grad) {
    host_action([leaf = leaf_, grad = grad.impl_ptr()] { leaf->grad = grad; });
  }

  std::shared_ptr<TensorImpl> leaf_;
};

}  // namespace

bool uniquely_owned(const Tensor& t) {
  // A capture's handles on the memory are no owners (capture.h).
  return t.use_count() == 1 &&
         t.storage().use_count() == 1 + detail::capture_references(*t.storage()) &&
         t.is_contiguous() && t.storage_offset() == 0;
}

std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  TensorImpl* impl = leaf.impl();
  if (auto existing = impl->grad_accumulator.lock()) return existing;
  auto node = detail::make_pooled<AccumulateGrad>(leaf.impl_ptr());
  impl->grad_accumulator = node;
  return node;
}

void retain_graph_of(const Tensor& output) {
  // Iterative, as the graph may be a long chain. A retained node's inputs are
  // retained already, so the walk stops there and never visits a node twice.
  NodeList<Node*> stack;
  if (output.defined() && output.grad_fn()) stack.push_back(output.grad_fn().get());
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    if (node->retained_) continue;
    node->retained_ = true;
    for (const auto& next : node->next_edges_)
      if (next.node && !next.node->retained_) stack.push_back(next.node.get());
  }
}

// One rule in the engine rather than a double-backward node per op: every
// backward is written in differentiable ops, so a gradient that came out
// without a graph is constant in the inputs, whichever ops made it (relu,
// abs, clamp, a linear function), and its derivative is zero.
Tensor with_zero_derivative(const Tensor& grad, const Tensor& input) {
  GradModeGuard grad_mode(true);
  // A new handle on grad's data: grad itself may be shared (the ones seeded
  // at a root, a gradient captured for two inputs) and must stay as it is.
  return record("zero_derivative", {input}, grad.detach(), {},
                [](Node&, const Tensor& g) -> GradList { return {zeros_like(g)}; });
}

const TensorImpl* accumulated_leaf(const Node& node) {
  // typeid rather than dynamic_cast, which walks the class hierarchy: the
  // engine asks this of every node it runs, and AccumulateGrad is final.
  if (typeid(node) != typeid(AccumulateGrad)) return nullptr;
  return static_cast<const AccumulateGrad&>(node).leaf();
}

}  // namespace tether::autograd
