// Sequential: layers applied one after another.
//
//   auto net = std::make_shared<tether::nn::Sequential>(tether::nn::Sequential::Layers{
//       std::make_shared<tether::nn::Linear>(4, 16), std::make_shared<tether::nn::ReLU>(),
//       std::make_shared<tether::nn::Linear>(16, 1)});
//   net->state_dict();   // "0.weight", "0.bias", "2.weight", "2.bias"
//
// Make the layers in braces, as here or in `tether::nn::Sequential net{...}`:
// C++ evaluates a braced list left to right, but a call's arguments in an
// unspecified order (GCC: right to left), and layers that draw their initial
// values from the generator (Linear, Conv, ...) give the same model for a seed
// on every compiler only when they are made in order. So
// std::make_shared<Sequential>(linear1, relu, linear2) with the layers made in
// the call compiles, but draws linear2's weights first under GCC.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "tether/nn/module.h"

namespace tether::nn {

class Sequential : public UnaryModule {
 public:
  /// Layers made in braces, in order (see above).
  using Layers = std::initializer_list<std::shared_ptr<UnaryModule>>;

  Sequential() = default;
  /// The layers in order, each a std::shared_ptr to a UnaryModule (Linear,
  /// ReLU, a custom layer, ...); anything else does not compile. Throws
  /// ValueError for a null layer.
  template <class... Modules>
  explicit Sequential(Modules&&... layers) {
    static_assert((std::is_convertible_v<Modules, std::shared_ptr<UnaryModule>> && ...),
                  "nn::Sequential: every layer must be a std::shared_ptr to a UnaryModule "
                  "(one tensor in, one out), e.g. std::make_shared<nn::Linear>(4, 8)");
    (push_back(std::forward<Modules>(layers)), ...);
  }
  /// The same from a braced list: Sequential net{layer0, layer1}.
  Sequential(Layers layers);

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
