// Graphviz export of an autograd graph, for teaching and debugging.
#include <sstream>
#include <unordered_map>

#include "graph.h"
#include "tether/autograd.h"

namespace tether::autograd {

std::string to_dot(const Tensor& root) {
  std::ostringstream nodes, edges;
  std::unordered_map<const Node*, int> ids;
  std::vector<const Node*> stack;
  auto id_of = [&](const Node* node) {
    auto [it, inserted] = ids.emplace(node, static_cast<int>(ids.size()));
    if (inserted) {
      stack.push_back(node);
      nodes << "  n" << it->second << " [label=\"" << node->name();
      if (const TensorImpl* leaf = accumulated_leaf(*node))
        nodes << "\\nleaf " << leaf->shape << "\", style=filled, fillcolor=lightblue];\n";
      else
        nodes << "\"];\n";
    }
    return it->second;
  };
  nodes << "  out [label=\"output " << root.shape() << "\", shape=ellipse];\n";
  if (root.grad_fn()) edges << "  n" << id_of(root.grad_fn().get()) << " -> out;\n";
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    const int id = ids.at(node);
    for (const auto& next : node->next_edges())
      if (next.node) edges << "  n" << id_of(next.node.get()) << " -> n" << id << ";\n";
  }
  return "digraph autograd {\n  rankdir=BT;\n  node [shape=box, fontname=\"Helvetica\"];\n" +
         nodes.str() + edges.str() + "}\n";
}

}  // namespace tether::autograd
