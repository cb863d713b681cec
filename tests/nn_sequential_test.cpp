// nn::Sequential's constructors: the layers as arguments (variadic), in braces,
// or as Sequential::Layers, each in the order given.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <type_traits>

#include "nn_check.h"

using namespace tether;

namespace {

/// Both Linear layers' weights, in state_dict order.
std::vector<double> weights(nn::Sequential& net) {
  std::vector<double> all;
  for (const char* name : {"0.weight", "1.weight"}) {
    const auto values = net.state_dict().at(name).to_vector<double>();
    all.insert(all.end(), values.begin(), values.end());
  }
  return all;
}

}  // namespace

// Any mix of UnaryModule pointers is accepted; anything else stops the build
// at the constructor's static_assert, which says what a layer must be.
static_assert(std::is_constructible_v<nn::Sequential, std::shared_ptr<nn::Linear>,
                                      std::shared_ptr<nn::ReLU>, std::shared_ptr<nn::Tanh>>);

TEST_CASE("Sequential takes its layers as constructor arguments, through make_shared too",
          "[nn][sequential]") {
  const auto relu = std::make_shared<nn::ReLU>();
  const auto tanh = std::make_shared<nn::Tanh>();
  const auto net =
      std::make_shared<nn::Sequential>(std::make_shared<nn::LeakyReLU>(0.5), relu, tanh);
  REQUIRE(net->size() == 3);
  CHECK((*net)[1] == relu);
  CHECK((*net)[2] == tanh);
  check_values((*net)(tensor({-1, 2}, {2}, DType::f64)), {0, std::tanh(2.0)});
}

TEST_CASE("Sequential made in braces builds its layers in order, so a seed gives one model",
          "[nn][sequential]") {
  manual_seed(3);
  const auto first = std::make_shared<nn::Linear>(2, 3, true, DType::f64);
  const auto second = std::make_shared<nn::Linear>(3, 1, true, DType::f64);
  nn::Sequential by_hand{first, second};

  manual_seed(3);
  nn::Sequential braced{std::make_shared<nn::Linear>(2, 3, true, DType::f64),
                        std::make_shared<nn::Linear>(3, 1, true, DType::f64)};
  CHECK(weights(braced) == weights(by_hand));

  manual_seed(3);
  const auto shared = std::make_shared<nn::Sequential>(
      nn::Sequential::Layers{std::make_shared<nn::Linear>(2, 3, true, DType::f64),
                             std::make_shared<nn::Linear>(3, 1, true, DType::f64)});
  CHECK(weights(*shared) == weights(by_hand));
}

TEST_CASE("Sequential's variadic constructor rejects a null layer", "[nn][sequential]") {
  CHECK_THROWS_WITH(nn::Sequential(std::make_shared<nn::ReLU>(), std::shared_ptr<nn::Tanh>()),
                    Catch::Contains("Sequential::push_back: expected a layer, got null"));
}
