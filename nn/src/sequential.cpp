#include "tether/nn/sequential.h"

#include <string>

#include "tether/error.h"

namespace tether::nn {

Sequential::Sequential(Layers layers) {
  for (const auto& layer : layers) push_back(layer);
}

void Sequential::push_back(std::shared_ptr<UnaryModule> layer) {
  if (!layer) fail<ValueError>("Sequential::push_back: expected a layer, got null");
  layers_.push_back(register_module(std::to_string(layers_.size()), std::move(layer)));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& layer : layers_) y = layer->forward(y);
  return y;
}

const std::shared_ptr<UnaryModule>& Sequential::operator[](std::size_t index) const {
  if (index >= layers_.size())
    fail<IndexError>("Sequential: expected a layer index below ", layers_.size(), ", got ", index);
  return layers_[index];
}

}  // namespace tether::nn
