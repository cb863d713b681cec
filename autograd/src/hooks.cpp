// Tensor hooks: register_hook and register_post_accumulate_grad_hook. The
// engine (engine.cpp) runs the gradient hooks on what arrives at a node before
// the node runs; AccumulateGrad (node.cpp) runs the post-accumulate ones.
#include <algorithm>

#include "graph.h"
#include "tether/error.h"

namespace tether::autograd {

Tensor GradHooks::run_on_grad(Tensor grad) const {
  for (const auto& [id, hook] : std::vector(on_grad)) {  // a copy: a hook may remove itself
    Tensor replacement = hook(grad);
    if (!replacement.defined()) continue;
    if (!(replacement.shape() == grad.shape()) || replacement.dtype() != grad.dtype())
      fail<AutogradError>("register_hook: a hook returned a gradient of shape ",
                          replacement.shape(), " and dtype ", replacement.dtype(),
                          " for one of shape ", grad.shape(), " and dtype ", grad.dtype());
    grad = std::move(replacement);
  }
  return grad;
}

void GradHooks::run_post_accumulate(const Tensor& leaf) const {
  for (const auto& [id, hook] : std::vector(post_accumulate)) hook(leaf);
}

std::shared_ptr<GradHooks> hooks_of(const Tensor& tensor) {
  std::shared_ptr<GradHooks>* hooks = &tensor.impl()->hooks;
  if (!tensor.is_leaf()) {
    auto& per_output = tensor.grad_fn()->hooks_;
    const std::uint32_t output_nr = tensor.impl()->output_nr;
    if (per_output.size() <= output_nr) per_output.resize(output_nr + 1);
    hooks = &per_output[output_nr];
  }
  if (!*hooks) *hooks = std::make_shared<GradHooks>();
  return *hooks;
}

namespace {

/// Appends `hook` to `tensor`'s `list`, returning the handle that erases it again.
template <class Fn>
HookHandle add_hook(const Tensor& tensor, GradHooks::List<Fn> GradHooks::*list, Fn hook) {
  std::shared_ptr<GradHooks> hooks = hooks_of(tensor);
  const std::uint64_t id = hooks->next_id++;
  ((*hooks).*list).emplace_back(id, std::move(hook));
  return HookHandle([weak = std::weak_ptr(hooks), list, id] {
    if (auto alive = weak.lock())
      std::erase_if((*alive).*list, [id](const auto& entry) { return entry.first == id; });
  });
}

}  // namespace

}  // namespace tether::autograd

namespace tether {

HookHandle Tensor::add_grad_hook(std::function<Tensor(const Tensor& grad)> hook) const {
  check_defined("register_hook", *this);
  if (!requires_grad())
    fail<AutogradError>("register_hook: cannot register a hook on a tensor that does not ",
                        "require grad");
  return autograd::add_hook(*this, &autograd::GradHooks::on_grad, std::move(hook));
}

HookHandle Tensor::register_post_accumulate_grad_hook(
    std::function<void(const Tensor& leaf)> hook) const {
  check_defined("register_post_accumulate_grad_hook", *this);
  if (!is_leaf() || !requires_grad())
    fail<AutogradError>("register_post_accumulate_grad_hook: expected a leaf that requires grad, ",
                        "got ", is_leaf() ? "a leaf that does not require grad" : "a non-leaf");
  return autograd::add_hook(*this, &autograd::GradHooks::post_accumulate, std::move(hook));
}

}  // namespace tether
