// The backward pass: one topological walk over the graph, iterative (no
// recursion, so a 100,000-op chain is fine), with dependency counting.
#include <algorithm>
#include <atomic>
#include <functional>
#include <span>
#include <unordered_map>
#include <utility>

#include "graph.h"
#include "tether/autograd.h"
#include "tether/error.h"
#include "tether/ops.h"

namespace tether::autograd {

class Engine {
 public:
  /// Targets whose incoming gradients (one per output) autograd::grad()
  /// returns instead of accumulating; empty for backward().
  using Captures = std::unordered_map<Node*, GradList>;
  /// Where a gradient enters the graph: a node, and which of its outputs.
  using Root = Edge;

  Engine(bool retain_graph, bool create_graph)
      : retain_graph_(retain_graph), create_graph_(create_graph) {}

  void run(const NodeList<Root>& roots, const GradList& root_grads, Captures* captures) {
    discover(roots, captures);
    struct Reset {  // leave no engine state behind, even when a backward throws
      NodeList<Node*>& nodes;
      ~Reset() {
        for (Node* n : nodes) {
          n->pending_ = 0;
          for (Tensor& buffer : n->grad_buffers_) buffer = Tensor();
        }
      }
    } reset{order_};
    for (std::size_t i = 0; i < roots.size(); ++i)
      accumulate(*roots[i].node, roots[i].output_nr, root_grads[i]);
    NodeList<Node*> ready;  // from the small-object pool, as the graph's own lists
    for (const auto& root : roots) {
      Node* n = root.node.get();
      if (n->pending_ == 0 && std::find(ready.begin(), ready.end(), n) == ready.end())
        ready.push_back(n);
    }
    GradModeGuard grad_mode(create_graph_);
    CurrentEngine running_scope(this);
    while (!ready.empty()) {
      Node* node = ready.back();
      ready.pop_back();
      GradList& grads = node->grad_buffers_;
      if (captures)  // before the hooks, as torch 1.13's autograd.grad
        if (auto it = captures->find(node); it != captures->end()) it->second = grads;
      if (!node->needed_) continue;
      if (node->released_)
        fail<AutogradError>(node->name(), ": trying to backward through the graph a second time ",
                            "(it was freed by an earlier backward); pass retain_graph=true to the ",
                            "first backward");
      for (std::uint32_t k = 0; k < grads.size(); ++k)
        if (const GradHooks* hooks = node->grad_hooks(k); hooks && grads[k].defined())
          grads[k] = hooks->run_on_grad(std::move(grads[k]));
      GradList input_grads = node->apply(grads);
      for (Tensor& buffer : grads) buffer = Tensor();  // the gradients' memory, freed early
      // A retained node is shared by graphs that have yet to run it (see
      // retain_graph_of); a leaf's accumulator is shared by every graph.
      if (!retain_graph_ && !node->retained_ && !accumulated_leaf(*node)) node->release();
      const auto& next = node->next_edges_;
      for (std::size_t i = 0; i < next.size(); ++i) {
        Node* child = next[i].node.get();
        if (!child) continue;
        if (i < input_grads.size() && input_grads[i].defined())
          accumulate(*child, next[i].output_nr, input_grads[i]);
        if (--child->pending_ == 0 && has_gradient(*child)) ready.push_back(child);
      }
    }
    // By index: a callback may queue another.
    for (std::size_t i = 0; i < callbacks_.size(); ++i) callbacks_[i]();
  }

  /// queue_callback's target: the backward running on this thread.
  static Engine& current(const char* op) {
    if (!running_) fail<AutogradError>(op, ": no backward is running on this thread");
    return *running_;
  }
  void queue(std::function<void()> callback) { callbacks_.push_back(std::move(callback)); }

 private:
  /// Adds `grad` into the gradient of `node`'s output `output_nr`.
  void accumulate(Node& node, std::uint32_t output_nr, const Tensor& grad) const {
    Tensor& buffer = node.grad_buffers_[output_nr];
    if (!buffer.defined())
      buffer = grad;
    else if (!create_graph_ && uniquely_owned(buffer) && buffer.shape() == grad.shape())
      buffer.add_(grad);  // nothing else sees this sum, and nothing records it
    else
      buffer = buffer + grad;
  }

  /// Whether a gradient reached any of `node`'s outputs (else it need not run).
  static bool has_gradient(const Node& node) {
    for (const Tensor& buffer : node.grad_buffers_)
      if (buffer.defined()) return true;
    return false;
  }

  // Depth-first walk from the roots: counts each node's incoming edges and
  // marks the nodes that must run: for backward() all of them, for grad()
  // those with a path to a captured input (a captured node itself only runs
  // if another captured input lies beyond it).
  void discover(const NodeList<Root>& roots, const Captures* captures) {
    static std::atomic<std::uint64_t> stamp_counter = 0;
    const std::uint64_t stamp = ++stamp_counter;
    struct Frame {
      Node* node;
      std::size_t next_child;
    };
    NodeList<Frame> stack;
    auto visit = [&](Node* n) {
      n->visit_stamp_ = stamp;
      n->pending_ = 0;
      n->needed_ = captures == nullptr;
      order_.push_back(n);
      stack.push_back({n, 0});
    };
    for (const auto& root : roots)
      if (root.node->visit_stamp_ != stamp) visit(root.node.get());
    while (!stack.empty()) {
      Frame& frame = stack.back();
      const auto& next = frame.node->next_edges_;
      if (frame.next_child == next.size()) {
        Node* done = frame.node;
        stack.pop_back();
        if (!stack.empty() && leads_to_target(done, captures)) stack.back().node->needed_ = true;
        continue;
      }
      Node* child = next[frame.next_child++].node.get();
      if (!child) continue;
      if (child->visit_stamp_ != stamp) {
        visit(child);  // invalidates `frame`; the parent learns needed_ when child finishes
        ++child->pending_;
        continue;
      }
      ++child->pending_;
      if (leads_to_target(child, captures)) frame.node->needed_ = true;
    }
  }

  static bool leads_to_target(Node* node, const Captures* captures) {
    return node->needed_ || (captures && captures->count(node) > 0);
  }

  // Marks the engine as this thread's running one for the scope of a backward;
  // a hook's nested backward saves and restores the outer one.
  struct CurrentEngine {
    Engine* outer;
    explicit CurrentEngine(Engine* engine) : outer(std::exchange(running_, engine)) {}
    ~CurrentEngine() { running_ = outer; }
  };
  static thread_local Engine* running_;

  bool retain_graph_;
  bool create_graph_;
  NodeList<Node*> order_;
  std::vector<std::function<void()>> callbacks_;
};

thread_local Engine* Engine::running_ = nullptr;

namespace {

/// Where a tensor's gradient enters the graph: its grad_fn's output, or a
/// leaf's accumulator.
Edge edge_of(const Tensor& t) {
  if (t.is_leaf()) return {grad_accumulator(t), 0};
  return {t.grad_fn(), t.impl()->output_nr};
}

struct Roots {
  NodeList<Engine::Root> nodes;
  GradList grads;
};

Roots collect_roots(const char* op, std::span<const Tensor> outputs,
                    std::span<const Tensor> grad_outputs) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    fail<ValueError>(op, ": got ", outputs.size(), " outputs but ", grad_outputs.size(),
                     " gradients");
  Roots roots;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    check_defined(op, out);
    if (!out.requires_grad())
      fail<AutogradError>(op, ": output ", i, " does not require grad and has no grad_fn");
    Tensor grad = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!grad.defined()) {
      if (out.numel() != 1)
        fail<AutogradError>(op, ": a gradient must be given for output ", i, " of shape ",
                            out.shape(), " (implicit ones only for single-element outputs)");
      grad = ones_like(out);
    } else if (!(grad.shape() == out.shape()) || grad.dtype() != out.dtype()) {
      fail<ShapeError>(op, ": gradient of shape ", grad.shape(), " and dtype ", grad.dtype(),
                       " for output ", i, " of shape ", out.shape(), " and dtype ", out.dtype());
    }
    roots.nodes.push_back(edge_of(out));
    roots.grads.push_back(grad);
  }
  return roots;
}

void run_backward(std::span<const Tensor> outputs, std::span<const Tensor> grad_outputs,
                  bool retain_graph, bool create_graph) {
  Roots roots = collect_roots("backward", outputs, grad_outputs);
  Engine(retain_graph || create_graph, create_graph).run(roots.nodes, roots.grads, nullptr);
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph, bool create_graph) {
  run_backward(outputs, grad_outputs, retain_graph, create_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph,
                         bool create_graph, bool allow_unused) {
  Roots roots = collect_roots("grad", outputs, grad_outputs);
  Engine::Captures captures;
  std::vector<Edge> targets;  // keeps new grad accumulators alive
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    check_defined("grad", input);
    if (!input.requires_grad()) fail<AutogradError>("grad: input ", i, " does not require grad");
    targets.push_back(edge_of(input));
    captures.emplace(targets.back().node.get(), GradList());
  }
  Engine(retain_graph.value_or(create_graph), create_graph)
      .run(roots.nodes, roots.grads, &captures);
  std::vector<Tensor> result;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const GradList& captured = captures[targets[i].node.get()];
    Tensor g = captured.empty() ? Tensor() : captured[targets[i].output_nr];
    if (!g.defined() && !allow_unused)
      fail<AutogradError>("grad: input ", i, " was not used to compute the outputs ",
                          "(pass allow_unused=true to get an undefined gradient)");
    if (g.defined() && !create_graph)
      g = g.detach();
    else if (g.defined() && !g.requires_grad())  // locally constant, as relu's: still in the graph
      g = with_zero_derivative(g, inputs[i]);
    result.push_back(g);
  }
  return result;
}

void queue_callback(std::function<void()> callback) {
  Engine::current("queue_callback").queue(std::move(callback));
}

}  // namespace tether::autograd

namespace tether {

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  // Spans over the arguments: no vectors to allocate for the common call.
  autograd::run_backward({this, 1}, {&gradient, 1}, retain_graph, create_graph);
}

}  // namespace tether
