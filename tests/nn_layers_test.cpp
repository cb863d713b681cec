// nn::Sequential, the activation modules, Flatten and Dropout: values worked
// out by hand, gradients by gradcheck, train/eval behaviour and errors.
#include <tether/gradcheck.h>
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "nn_check.h"

using namespace tether;

namespace {

/// The README's custom module: x * factor.
struct Scale : nn::UnaryModule {
  explicit Scale(double factor) : factor(factor) {}
  Tensor forward(const Tensor& x) override { return x * factor; }
  double factor;
};

}  // namespace

TEST_CASE("Sequential chains its layers in order", "[nn][sequential]") {
  nn::Sequential net{std::make_shared<Scale>(2), std::make_shared<nn::ReLU>(),
                     std::make_shared<Scale>(3)};
  CHECK(net.size() == 3);
  check_values(net(tensor({-1, 2}, {2}, DType::f64)), {0, 12});
  net.push_back(std::make_shared<Scale>(-1));
  check_values(net.forward(tensor({-1, 2}, {2}, DType::f64)), {0, -12});
}

TEST_CASE("an empty Sequential returns its input", "[nn][sequential]") {
  nn::Sequential net;
  check_values(net(tensor({1, 2}, {2})), {1, 2});
}

TEST_CASE("Sequential names its layers by position in the state dict", "[nn][sequential]") {
  nn::Sequential net{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::BatchNorm1d>(4)};
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : net.state_dict()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"0.bias", "0.weight", "1.bias", "1.num_batches_tracked",
                                         "1.running_mean", "1.running_var", "1.weight"});
  CHECK(net.parameters().size() == 4);
}

TEST_CASE("Sequential passes train and eval to its layers", "[nn][sequential]") {
  nn::Sequential net{std::make_shared<nn::Dropout>(0.5)};
  net.eval();
  CHECK_FALSE(net[0]->is_training());
  net.train();
  CHECK(net[0]->is_training());
}

TEST_CASE("Sequential rejects a null layer and an index past its end", "[nn][sequential]") {
  nn::Sequential net;
  CHECK_THROWS_AS(net.push_back(nullptr), ValueError);
  CHECK_THROWS_WITH(net[0], Catch::Contains("Sequential: expected a layer index below 0, got 0"));
}

TEST_CASE("activation modules compute their ops", "[nn][activation]") {
  const Tensor x = tensor({-2, 0.5}, {2}, DType::f64);
  check_values(nn::ReLU()(x), {0, 0.5});
  check_values(nn::LeakyReLU(0.1)(x), {-0.2, 0.5});
  check_values(nn::Tanh()(x), {std::tanh(-2.0), std::tanh(0.5)});
  check_values(nn::Sigmoid()(x), {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(-0.5))});
  // x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2.
  check_values(nn::GELU()(x), {-2 * 0.0227501319482, 0.5 * 0.691462461274});
  const Tensor logits = tensor({0, std::log(3.0)}, {1, 2}, DType::f64);
  check_values(nn::Softmax(1)(logits), {0.25, 0.75});
  check_values(nn::LogSoftmax(-1)(logits), {std::log(0.25), std::log(0.75)});
}

TEST_CASE("Flatten merges the dims after the batch by default", "[nn][activation]") {
  CHECK(nn::Flatten()(zeros({2, 3, 4})).shape() == Shape{2, 12});
  CHECK(nn::Flatten(0, 1)(zeros({2, 3, 4})).shape() == Shape{6, 4});
}

TEST_CASE("a Sequential of activations passes gradcheck in f64", "[nn][activation]") {
  manual_seed(5);
  nn::Sequential net{std::make_shared<nn::LeakyReLU>(0.2), std::make_shared<nn::Tanh>(),
                     std::make_shared<nn::GELU>(),         std::make_shared<nn::Sigmoid>(),
                     std::make_shared<nn::Flatten>(),      std::make_shared<nn::LogSoftmax>(1),
                     std::make_shared<nn::Softmax>(0)};
  const Tensor x = randn({3, 2, 2}, DType::f64).requires_grad_();
  CHECK(gradcheck([&](const std::vector<Tensor>& in) { return net(in[0]); }, {x}));
}

TEST_CASE("Dropout is the identity in eval mode and for p = 0", "[nn][dropout]") {
  manual_seed(1);
  const Tensor x = randn({100});
  nn::Dropout dropout(0.5);
  dropout.eval();
  check_values(dropout(x), x.to_vector<double>());
  nn::Dropout none(0.0);
  check_values(none(x), x.to_vector<double>());
}

TEST_CASE("Dropout in training zeroes about p of the elements and scales the rest",
          "[nn][dropout]") {
  manual_seed(2);
  const Tensor x = ones({20000}, DType::f64).requires_grad_();
  nn::Dropout dropout(0.25);
  const Tensor y = dropout(x);
  std::int64_t kept = 0;
  for (const double v : y.to_vector<double>()) {
    CHECK((v == 0 || v == Approx(4.0 / 3.0)));
    kept += v != 0;
  }
  CHECK(static_cast<double>(kept) / 20000 == Approx(0.75).margin(0.01));
  // The gradient is the same mask and scale.
  sum(y).backward();
  check_values(x.grad(), y.to_vector<double>());
}

TEST_CASE("Dropout with p = 1 gives zeros and zero gradients in training", "[nn][dropout]") {
  const Tensor x = randn({3, 4}, DType::f64).requires_grad_();
  nn::Dropout dropout(1.0);
  const Tensor y = dropout(x);
  check_values(y, std::vector<double>(12, 0.0));
  sum(y).backward();
  check_values(x.grad(), std::vector<double>(12, 0.0));
  dropout.eval();
  check_values(dropout(x), x.to_vector<double>());
}

TEST_CASE("Dropout rejects p outside [0, 1]", "[nn][dropout]") {
  CHECK_THROWS_WITH(nn::Dropout(-0.1), "Dropout: expected p in [0, 1], got -0.1");
  CHECK_THROWS_WITH(nn::Dropout(1.5), "Dropout: expected p in [0, 1], got 1.5");
  CHECK_THROWS_AS(nn::Dropout(std::nan("")), ValueError);
}
