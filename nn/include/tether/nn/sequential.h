// Sequential: layers applied one after another.
//
//   auto net = std::make_shared<tether::nn::Sequential>(
//       std::initializer_list<std::shared_ptr<tether::nn::UnaryModule>>{
//           std::make_shared<tether::nn::Linear>(4, 16), std::make_shared<tether::nn::ReLU>(),
//           std::make_shared<tether::nn::Linear>(16, 1)});
//   net->state_dict();   // "0.weight", "0.bias", "2.weight", "2.bias"
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <vector>

#include "tether/nn/module.h"

namespace tether::nn {

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> layers);

  /// Appends `layer` as a child named by its position ("0", "1", ...).
  /// Throws ValueError for a null layer.
  void push_back(std::shared_ptr<UnaryModule> layer);

  /// Each layer's output is the next one's input; with no layers, x itself.
  Tensor forward(const Tensor& x) override;

  std::size_t size() const { return layers_.size(); }
  /// The layer at `index`; throws IndexError past the end.
  const std::shared_ptr<UnaryModule>& operator[](std::size_t index) const;

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

}  // namespace tether::nn
