// Captured steps (capture.h): replays must match eager steps bit for bit,
// keep computed parameters' caches honest, build nothing, allocate nothing,
// and refuse what they cannot repeat.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "spectral_norm_toy.h"

using namespace tether;
using Catch::Matchers::Contains;

namespace {

/// Every element of `t`, exactly (f32 and i64 widen to f64 without rounding here).
std::vector<double> bits(const Tensor& t) {
  return t.detach().to(DType::f64).to_vector<double>();
}

/// Each tensor of `a` and `b` (same keys) bit for bit.
void require_same(const StateDict& a, const StateDict& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, tensor] : a) {
    INFO(name);
    REQUIRE(b.count(name) == 1);
    REQUIRE(bits(tensor) == bits(b.at(name)));
  }
}

/// A training setup with a static input pair (x, y): step(i) runs batch i
/// eagerly, capture() records the step on batch 0, replay(step, i) replays it
/// on batch i.
struct WithInputs {
  WithInputs(const Shape& x_shape, const Shape& y_shape, DType y_dtype)
      : x(zeros(x_shape, DType::f64)), y(zeros(y_shape, y_dtype)) {
    manual_seed(3);
    for (int i = 0; i < 110; ++i)
      data.emplace_back(randn(x_shape, DType::f64),
                        y_dtype == DType::i64 ? randint(4, y_shape) : randn(y_shape, DType::f64));
  }
  virtual ~WithInputs() = default;
  virtual Tensor body() = 0;

  Tensor step(int i) {
    x.copy_(data[i].first);
    y.copy_(data[i].second);
    return body();
  }
  CapturedStep capture() {
    x.copy_(data[0].first);
    y.copy_(data[0].second);
    return tether::capture({x, y}, [this] { return body(); });
  }
  Tensor replay(const CapturedStep& step, int i) { return step({data[i].first, data[i].second}); }

  Tensor x, y;
  std::vector<std::pair<Tensor, Tensor>> data;
};

/// A classifier of 8 features into 4 classes, cross-entropy, any optimizer.
struct Classifier : WithInputs {
  explicit Classifier(std::int64_t batch) : WithInputs({batch, 8}, {batch}, DType::i64) {}
  Tensor body() override {
    optimizer->zero_grad();
    const Tensor loss = nn::cross_entropy(model(x), y);
    loss.backward();
    optimizer->step();
    return loss;
  }
  StateDict state() {
    StateDict all = model.state_dict();
    for (const auto& [name, t] : optimizer->state_dict()) all["optimizer." + name] = t;
    return all;
  }
  nn::Sequential model;
  std::unique_ptr<optim::Optimizer> optimizer;
};

/// An MLP 8-16-4 whose first weight is spectrally normalised, with Adam.
struct SnMlp : Classifier {
  SnMlp() : Classifier(5) {
    manual_seed(1);
    auto fc1 = std::make_shared<nn::Linear>(8, 16, true, TensorOptions{DType::f64});
    fc1->weight = spectrally_normalize(fc1->weight);
    model.push_back(fc1);
    model.push_back(std::make_shared<nn::ReLU>());
    model.push_back(std::make_shared<nn::Linear>(16, 4, true, TensorOptions{DType::f64}));
    optimizer = std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions{.lr = 1e-2});
  }
};

/// An MLP with dropout, plain SGD: dropout draws inside the step.
struct DropoutMlp : Classifier {
  DropoutMlp() : Classifier(6) {
    manual_seed(4);
    model.push_back(std::make_shared<nn::Linear>(8, 16, true, TensorOptions{DType::f64}));
    model.push_back(std::make_shared<nn::Dropout>(0.3));
    model.push_back(std::make_shared<nn::Linear>(16, 4, true, TensorOptions{DType::f64}));
    optimizer = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = 0.1});
  }
};

/// An LSTM (3 -> 5, two layers) regressing a [6, 4, 5] target, SGD with momentum.
struct Lstm : WithInputs {
  Lstm() : WithInputs({6, 4, 3}, {6, 4, 5}, DType::f64) {
    manual_seed(2);
    lstm = std::make_unique<nn::LSTM>(
        nn::RecurrentOptions{.input_size = 3, .hidden_size = 5, .num_layers = 2},
        TensorOptions{DType::f64});
    sgd = std::make_unique<optim::SGD>(lstm->parameters(),
                                       optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  }
  Tensor body() override {
    sgd->zero_grad();
    const Tensor loss = nn::mse_loss(lstm->forward(x).output, y);
    loss.backward();
    sgd->step();
    return loss;
  }
  StateDict state() {
    StateDict all = lstm->state_dict();
    for (const auto& [name, t] : sgd->state_dict()) all["sgd." + name] = t;
    return all;
  }
  std::unique_ptr<nn::LSTM> lstm;
  std::unique_ptr<optim::SGD> sgd;
};

/// The seed example (examples/spectral_norm_toy.h): a spectrally normalised
/// Linear(3, 4) fitted by SGD, a fresh randn batch drawn inside each step.
struct SeedToy {
  SeedToy() : toy((manual_seed(0), 0.1), 20) {}
  Tensor step(int) { return toy.step(); }
  CapturedStep capture() {
    return tether::capture([this] { return toy.step(); });
  }
  Tensor replay(const CapturedStep& step, int) { return step(); }
  StateDict state() {
    StateDict all = toy.linear().state_dict();
    all["weight_error"] = toy.weight_error();  // the value, recomputed eagerly in eval mode
    return all;
  }
  examples::SpectralNormToy toy;
};

/// Runs step 0 and `replays` more eagerly on one setup, and on an identical
/// one captures step 0 and replays the rest: every loss, then every
/// parameter, buffer and optimizer state, then one more eager step on each
/// (eager code after replays) must agree bit for bit.
template <class Setup>
void require_replays_match_eager(int replays) {
  Setup eager, captured;
  manual_seed(11);
  std::vector<std::vector<double>> losses;
  for (int i = 0; i <= replays; ++i) losses.push_back(bits(eager.step(i)));
  manual_seed(11);
  const CapturedStep step = captured.capture();
  for (int i = 1; i <= replays; ++i) {
    INFO("replay " << i);
    REQUIRE(bits(captured.replay(step, i)) == losses[i]);
  }
  require_same(eager.state(), captured.state());
  // Both setups draw from the one global generator: seed each eager step alike.
  manual_seed(12);
  const std::vector<double> eager_loss = bits(eager.step(replays + 1));
  manual_seed(12);
  REQUIRE(bits(captured.step(replays + 1)) == eager_loss);
  require_same(eager.state(), captured.state());
}

}  // namespace

TEST_CASE(
    "100 replays of the captured seed spectral-norm SGD step equal 100 eager steps bit for bit",
    "[capture]") {
  require_replays_match_eager<SeedToy>(100);
}

TEST_CASE(
    "100 replays of a captured Adam step of an MLP with a spectrally normalised layer equal eager "
    "steps",
    "[capture]") {
  require_replays_match_eager<SnMlp>(100);
}

TEST_CASE("100 replays of a captured LSTM step with SGD momentum equal eager steps", "[capture]") {
  require_replays_match_eager<Lstm>(100);
}

TEST_CASE("dropout in a captured step draws fresh masks at each replay, as eager steps do",
          "[capture]") {
  require_replays_match_eager<DropoutMlp>(20);
}

TEST_CASE("a replay builds no graph and allocates no tensor memory", "[capture]") {
  SnMlp setup;
  const CapturedStep step = setup.capture();
  Allocator& cpu = allocator(Device::cpu());
  cpu.reset_stats();
  for (int i = 1; i < 10; ++i) {
    const Tensor loss = setup.replay(step, i);
    REQUIRE(loss.grad_fn() == nullptr);
    REQUIRE_FALSE(loss.requires_grad());
  }
  REQUIRE(cpu.stats().requests == 0);
  for (const Tensor& p : setup.model.parameters()) REQUIRE(p.grad().grad_fn() == nullptr);
}

TEST_CASE(
    "a learning rate changed between replays is used by the next replay, as by the next eager step",
    "[capture]") {
  SnMlp eager, captured;
  const CapturedStep step = captured.capture();
  eager.step(0);
  for (int i = 1; i < 10; ++i) {
    if (i == 5) {
      eager.optimizer->set_lr(0, 0.5);
      captured.optimizer->set_lr(0, 0.5);
    }
    REQUIRE(bits(eager.step(i)) == bits(captured.replay(step, i)));
  }
  require_same(eager.state(), captured.state());
}

TEST_CASE("a computed parameter cached before the capture is computed again inside it",
          "[capture]") {
  // Without this, the cached value would be a constant of the recording and
  // replays would never see the optimizer's updates of the raw weight.
  SeedToy eager, captured;
  const auto weight_of = [](SeedToy& setup) {
    return std::dynamic_pointer_cast<ComputedParameter>(setup.toy.linear().weight);
  };
  weight_of(eager)->value();
  weight_of(eager)->invalidate();  // what the capture does to a valid cache
  manual_seed(5);
  std::vector<std::vector<double>> losses;
  for (int i = 0; i < 20; ++i) losses.push_back(bits(eager.step(i)));
  weight_of(captured)->value();
  const std::uint64_t computed = weight_of(captured)->recompute_count();
  manual_seed(5);
  const CapturedStep step = captured.capture();
  REQUIRE(weight_of(captured)->recompute_count() == computed + 1);
  for (int i = 1; i < 20; ++i) REQUIRE(bits(step()) == losses[i]);
  require_same(eager.state(), captured.state());
}

TEST_CASE("a read of tensor data to the host inside a captured step is a CaptureError naming it",
          "[capture]") {
  const Tensor x = randn({3});
  REQUIRE_THROWS_AS(capture([&] {
                      const Tensor y = x * 2;
                      if (y.sum().item<double>() > 0) return y;
                      return -y;
                    }),
                    CaptureError);
  REQUIRE_THROWS_WITH(capture([&] { return tensor({sum(x).item<double>()}); }),
                      Contains("capture: a read of tensor data to the host (item()"));
  REQUIRE_THROWS_WITH(capture([&] { return masked_select(x, x > 0); }),
                      Contains("capture: masked_select"));
  REQUIRE_THROWS_WITH(capture([&] { return randint(5, {3}); }),
                      Contains("capture: an integer random draw (randint, randperm)"));
  // The refusal ends the capture: eager reads work again.
  REQUIRE_NOTHROW(x.sum().item<double>());
}

TEST_CASE("replay inputs unlike the captured ones are refused, naming capture", "[capture]") {
  Tensor x = zeros({2, 3});
  const CapturedStep step = capture({x}, [&] { return x * 2; });
  REQUIRE_THROWS_AS(step({zeros({3, 3})}), ShapeError);
  REQUIRE_THROWS_WITH(step({zeros({3, 3})}),
                      Contains("capture: replay input 0 has shape [3, 3], the step was captured "
                               "with [2, 3]"));
  REQUIRE_THROWS_WITH(step({zeros({2, 3}, DType::f64)}),
                      Contains("capture: replay input 0 has dtype f64"));
  REQUIRE_THROWS_AS(step({zeros({2, 3}, DType::f64)}), DTypeError);
  REQUIRE_THROWS_WITH(step({x, x}), Contains("capture: replay given 2 inputs"));
  REQUIRE(bits(step({ones({2, 3})})) == std::vector<double>(6, 2.0));
  REQUIRE(bits(x) == std::vector<double>(6, 1.0));  // the input was copied in
}

TEST_CASE("capturing inside a captured step is a CaptureError", "[capture]") {
  REQUIRE_THROWS_WITH(capture([] { return capture([] { return ones({1}); })(); }),
                      Contains("capture: already capturing"));
}

TEST_CASE("a kernel's own error is raised again at the replay that meets it", "[capture]") {
  Tensor a = eye(2, std::nullopt, DType::f64);
  const CapturedStep step = capture({a}, [&] { return cholesky(a); });
  REQUIRE(bits(step({eye(2, std::nullopt, DType::f64) * 4})) == std::vector<double>{2, 0, 0, 2});
  REQUIRE_THROWS_AS(step({-eye(2, std::nullopt, DType::f64)}), LinAlgError);
}

TEST_CASE("a gradient hook's tensor arithmetic is replayed, the hook itself does not run again",
          "[capture]") {
  Tensor w = ones({3}).requires_grad_();
  Tensor x = zeros({3});
  int calls = 0;
  w.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 2;
  });
  const CapturedStep step = capture({x}, [&] {
    w.set_grad(Tensor());
    const Tensor loss = (w * x).sum();
    loss.backward();
    return loss;
  });
  step({tensor({1, 2, 3})});
  REQUIRE(bits(w.grad()) == std::vector<double>{2, 4, 6});
  REQUIRE(calls == 1);
}

TEST_CASE("a projected parameter is projected at each replay, as after each eager step",
          "[capture]") {
  // Captured right after construction, when the leaf is already projected:
  // the capture must still record the projection.
  struct Projected {
    Projected() : weight(project_non_negative(make_parameter(tensor({0.5, 0.1, 0.2})))) {}
    Tensor step() {
      sgd.zero_grad();
      const Tensor loss = (weight->value() * tensor({1, -1, 2})).sum();
      loss.backward();
      sgd.step();
      return loss;
    }
    std::shared_ptr<ProjectedParameter> weight;
    optim::SGD sgd{std::vector<Tensor>{weight->value()}, optim::SGDOptions{.lr = 0.1}};
  } eager, captured;
  std::vector<std::vector<double>> losses;
  for (int i = 0; i < 10; ++i) losses.push_back(bits(eager.step()));
  const CapturedStep step = capture([&] { return captured.step(); });
  for (int i = 1; i < 10; ++i) REQUIRE(bits(step()) == losses[i]);
  REQUIRE(bits(captured.weight->value()) == bits(eager.weight->value()));
}

TEST_CASE("a step that zeroes the gradients after the update replays as eager steps do",
          "[capture]") {
  // zero_grad and the leaf's new grad() are host actions: replays set them again.
  struct ZeroLast : SnMlp {
    Tensor body() override {
      const Tensor loss = nn::cross_entropy(model(x), y);
      loss.backward();
      optimizer->step();
      optimizer->zero_grad();
      return loss;
    }
  } eager, captured;
  for (int i = 0; i < 10; ++i) eager.step(i);
  const CapturedStep step = captured.capture();
  for (int i = 1; i < 10; ++i) captured.replay(step, i);
  require_same(eager.state(), captured.state());
}

TEST_CASE("a captured step on CUDA replays as eager steps do", "[capture][cuda]") {
  if (!cuda_is_available()) {
    std::cout << "TETHER_TEST_SKIPPED: no usable CUDA device in this build or machine" << std::endl;
    return;
  }
  struct OnCuda {
    OnCuda() {
      manual_seed(6);
      linear.weight = spectrally_normalize(linear.weight);
      linear.to(Device::cuda());
    }
    Tensor step() {
      adam.zero_grad();
      const Tensor loss = nn::mse_loss(linear(x), y);
      loss.backward();
      adam.step();
      return loss;
    }
    nn::Linear linear{8, 4, true, TensorOptions{DType::f64}};
    optim::Adam adam{linear.parameters(), optim::AdamOptions{.lr = 1e-2}};
    Tensor x = randn({16, 8}, DType::f64).to(Device::cuda());
    Tensor y = randn({16, 4}, DType::f64).to(Device::cuda());
  } eager, captured;
  std::vector<Tensor> batches;
  for (int i = 0; i < 20; ++i) batches.push_back(randn({16, 8}, DType::f64).to(Device::cuda()));
  std::vector<double> losses;
  for (const Tensor& batch : batches) {
    eager.x.copy_(batch);
    losses.push_back(eager.step().item<double>());
  }
  captured.x.copy_(batches[0]);
  const CapturedStep step = capture({captured.x}, [&] { return captured.step(); });
  for (int i = 1; i < 20; ++i)
    REQUIRE(step(batches[i]).item<double>() == Approx(losses[i]).epsilon(1e-12));
  // Kernels with atomic adds may round differently from run to run on a GPU.
  const Tensor gap = captured.linear.weight->value() - eager.linear.weight->value();
  REQUIRE(amax(abs(gap)).item<double>() < 1e-12);
}

TEST_CASE("a captured step's temporaries share memory where their lives do not overlap",
          "[capture]") {
  // 40 temporaries of 16 KiB each, at most two alive at a time: the tape
  // keeps a few blocks' worth, not 40.
  Tensor x = ones({4096});
  Allocator& cpu = allocator(Device::cpu());
  const std::size_t before = cpu.stats().bytes_in_use;
  const CapturedStep step = capture({x}, [&] {
    Tensor y = x;
    for (int i = 0; i < 20; ++i) y = y * 0.5 + 1;
    return y.sum();
  });
  REQUIRE(cpu.stats().bytes_in_use - before < 4 * 4096 * sizeof(float));
  Tensor eager = full({4096}, 3.0);
  for (int i = 0; i < 20; ++i) eager = eager * 0.5 + 1;
  REQUIRE(bits(step({full({4096}, 3.0)})) == bits(eager.sum()));
}

TEST_CASE("temporaries written in parts or in place before they are read replay as eager",
          "[capture]") {
  // cat writes its output in slices, add_ reads its operand first: neither
  // may be given memory that an earlier temporary still uses.
  Tensor x = zeros({3, 2}, DType::f64);
  const auto body = [&] {
    Tensor doubled = x * 2;
    doubled.add_(x);
    const Tensor joined = cat({x * 3, doubled, exp(x)});
    return (joined * joined).sum({0});
  };
  const CapturedStep step = capture({x}, body);
  manual_seed(9);
  for (int i = 0; i < 5; ++i) {
    const Tensor input = randn({3, 2}, DType::f64);
    const std::vector<double> replayed = bits(step({input}));
    x.copy_(input);
    REQUIRE(replayed == bits(body()));
  }
}

TEST_CASE(
    "a captured step hands a leaf the gradient buffer its backward wrote, as an eager "
    "step does, instead of a copy",
    "[capture]") {
  // The tape's handles on the buffer are no owners: only a real second owner
  // (here a hook keeping the gradient) makes backward copy it into grad().
  Tensor w = ones({3}).requires_grad_();
  Tensor x = zeros({3});
  const auto body = [&] {
    w.set_grad(Tensor());
    const Tensor loss = (w * x).sum();
    loss.backward();
    return loss;
  };
  const std::size_t taken = capture({x}, body).size();
  Tensor kept;
  w.register_hook([&](const Tensor& g) {
    kept = g;
    return g;
  });
  const CapturedStep copied = capture({x}, body);
  REQUIRE(copied.size() == taken + 1);
  REQUIRE(bits(copied({tensor({1, 2, 3})})) == std::vector<double>{6});
  REQUIRE(bits(w.grad()) == std::vector<double>{1, 2, 3});
}

TEST_CASE("kernels that compute the same values at every replay run only at the capture",
          "[capture]") {
  // The fill behind full() and the exp of its result never change: the
  // replay runs the multiplication alone, and keeps the constant's value.
  Tensor x = zeros({3}, DType::f64);
  const CapturedStep step = capture({x}, [&] { return x * exp(full({3}, 1.0, DType::f64)); });
  REQUIRE(step.size() == 1);
  for (int i = 1; i < 4; ++i) {
    const Tensor input = full({3}, i, DType::f64);
    REQUIRE(bits(step({input})) == bits(input * exp(full({3}, 1.0, DType::f64))));
  }
}
