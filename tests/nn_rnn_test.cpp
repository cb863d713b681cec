// LSTMCell, GRUCell, LSTM and GRU: values against PyTorch's equations written
// out with plain loops over doubles, batch_first and state handling,
// gradcheck, state_dict names, errors, an orthogonal recurrent weight, and a
// small learning task.
#include <tether/gradcheck.h>
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>
#include "tensor_checks.h"

using namespace tether;
using tether::testing::max_abs_diff;

namespace {

// ---- the reference: PyTorch's equations on std::vector<double> ----------------

using Vec = std::vector<double>;

/// One layer's (one direction's) weights, row-major, as the module holds them.
struct RefWeights {
  Vec weight_ih, weight_hh, bias_ih, bias_hh;
};

RefWeights ref_weights(const nn::RecurrentWeights& weights) {
  return {weights.weight_ih->value().to_vector<double>(),
          weights.weight_hh->value().to_vector<double>(),
          weights.bias_ih->value().to_vector<double>(),
          weights.bias_hh->value().to_vector<double>()};
}

/// w [rows, x.size()] times x plus b.
Vec affine(const Vec& w, const Vec& b, const Vec& x) {
  Vec y(b);
  for (std::size_t r = 0; r < y.size(); ++r)
    for (std::size_t k = 0; k < x.size(); ++k) y[r] += w[r * x.size() + k] * x[k];
  return y;
}

double logistic(double v) {
  return 1 / (1 + std::exp(-v));
}

/// One step for one sample: h, c [hidden] advance in place.
void ref_lstm_step(const RefWeights& w, const Vec& x, Vec& h, Vec& c) {
  const Vec gi = affine(w.weight_ih, w.bias_ih, x), gh = affine(w.weight_hh, w.bias_hh, h);
  const std::size_t n = h.size();
  for (std::size_t j = 0; j < n; ++j) {
    const double i = logistic(gi[j] + gh[j]), f = logistic(gi[n + j] + gh[n + j]),
                 g = std::tanh(gi[2 * n + j] + gh[2 * n + j]),
                 o = logistic(gi[3 * n + j] + gh[3 * n + j]);
    c[j] = f * c[j] + i * g;
    h[j] = o * std::tanh(c[j]);
  }
}

void ref_gru_step(const RefWeights& w, const Vec& x, Vec& h, Vec&) {
  const Vec gi = affine(w.weight_ih, w.bias_ih, x), gh = affine(w.weight_hh, w.bias_hh, h);
  const std::size_t n = h.size();
  for (std::size_t j = 0; j < n; ++j) {
    const double r = logistic(gi[j] + gh[j]), z = logistic(gi[n + j] + gh[n + j]),
                 candidate = std::tanh(gi[2 * n + j] + r * gh[2 * n + j]);
    h[j] = (1 - z) * candidate + z * h[j];
  }
}

using RefStep = void (*)(const RefWeights&, const Vec&, Vec&, Vec&);

struct Sizes {
  std::size_t steps, batch, input, hidden, layers, directions;
};

struct RefResult {
  Vec output;  ///< [T, N, directions * hidden]
  Vec h, c;    ///< [layers * directions, N, hidden]
};

/// Elements [offset, offset + length) of v.
Vec part(const Vec& v, std::size_t offset, std::size_t length) {
  return Vec(v.begin() + offset, v.begin() + offset + length);
}

/// A stacked (bidirectional) recurrent layer, sample by sample and step by step.
RefResult ref_run(RefStep step, const std::vector<RefWeights>& weights, const Sizes& s,
                  const Vec& x, const Vec& h0, const Vec& c0) {
  const std::size_t hidden = s.hidden, width = s.directions * hidden;
  RefResult result{{}, Vec(h0), Vec(c0)};
  Vec input = x;
  std::size_t features = s.input;
  for (std::size_t layer = 0; layer < s.layers; ++layer) {
    Vec output(s.steps * s.batch * width);
    for (std::size_t direction = 0; direction < s.directions; ++direction) {
      const std::size_t index = layer * s.directions + direction;
      for (std::size_t n = 0; n < s.batch; ++n) {
        const std::size_t state_at = (index * s.batch + n) * hidden;
        Vec h = part(h0, state_at, hidden), c = part(c0, state_at, hidden);
        for (std::size_t k = 0; k < s.steps; ++k) {
          const std::size_t t = direction == 0 ? k : s.steps - 1 - k;
          step(weights[index], part(input, (t * s.batch + n) * features, features), h, c);
          std::copy(h.begin(), h.end(),
                    output.begin() + (t * s.batch + n) * width + direction * hidden);
        }
        std::copy(h.begin(), h.end(), result.h.begin() + state_at);
        std::copy(c.begin(), c.end(), result.c.begin() + state_at);
      }
    }
    input = output;
    features = width;
  }
  result.output = input;
  return result;
}

std::vector<RefWeights> ref_weights(nn::RecurrentLayers& module) {
  std::vector<RefWeights> all;
  for (std::int64_t layer = 0; layer < module.options().num_layers; ++layer)
    for (std::int64_t direction = 0; direction < module.directions(); ++direction)
      all.push_back(ref_weights(module.weights(layer, direction == 1)));
  return all;
}

// ---- helpers ---------------------------------------------------------------------

void check_close(const Tensor& got, const Vec& expected, double tolerance = 1e-12) {
  const Vec values = got.to_vector<double>();
  REQUIRE(values.size() == expected.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(values[i] - expected[i]) <= tolerance);
  }
}

const TensorOptions f64{DType::f64};

Tensor random(const Shape& shape) {
  return randn(shape, f64);
}

std::shared_ptr<nn::LSTM> make_lstm(const nn::RecurrentOptions& options, std::uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::LSTM>(options, f64);
}

std::shared_ptr<nn::GRU> make_gru(const nn::RecurrentOptions& options, std::uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::GRU>(options, f64);
}

Sizes sizes_of(const nn::RecurrentLayers& module, std::size_t steps, std::size_t batch) {
  const auto& o = module.options();
  return {steps,
          batch,
          static_cast<std::size_t>(o.input_size),
          static_cast<std::size_t>(o.hidden_size),
          static_cast<std::size_t>(o.num_layers),
          static_cast<std::size_t>(module.directions())};
}

/// LSTM and GRU against the reference, from a given initial state and from zeros.
void check_against_reference(const nn::RecurrentOptions& options) {
  const std::int64_t steps = 4, batch = 3;
  auto lstm = make_lstm(options, 11);
  auto gru = make_gru(options, 12);
  const Sizes s = sizes_of(*lstm, steps, batch);
  const Tensor x = random({steps, batch, options.input_size});
  const Shape state_shape{options.num_layers * lstm->directions(), batch, options.hidden_size};
  const Tensor h0 = random(state_shape), c0 = random(state_shape);
  const Vec zero(state_shape.numel(), 0.0);

  const auto lstm_result = lstm->forward(x, {h0, c0});
  const RefResult lstm_ref = ref_run(ref_lstm_step, ref_weights(*lstm), s, x.to_vector<double>(),
                                     h0.to_vector<double>(), c0.to_vector<double>());
  check_close(lstm_result.output, lstm_ref.output);
  check_close(lstm_result.state.h, lstm_ref.h);
  check_close(lstm_result.state.c, lstm_ref.c);
  CHECK(lstm_result.output.shape() ==
        Shape{steps, batch, lstm->directions() * options.hidden_size});

  const RefResult lstm_zero =
      ref_run(ref_lstm_step, ref_weights(*lstm), s, x.to_vector<double>(), zero, zero);
  const auto lstm_from_zero = lstm->forward(x);
  check_close(lstm_from_zero.output, lstm_zero.output);
  check_close(lstm_from_zero.state.c, lstm_zero.c);

  const auto gru_result = gru->forward(x, h0);
  const RefResult gru_ref = ref_run(ref_gru_step, ref_weights(*gru), s, x.to_vector<double>(),
                                    h0.to_vector<double>(), zero);
  check_close(gru_result.output, gru_ref.output);
  check_close(gru_result.h, gru_ref.h);
  const RefResult gru_zero =
      ref_run(ref_gru_step, ref_weights(*gru), s, x.to_vector<double>(), zero, zero);
  check_close(gru->forward(x).h, gru_zero.h);
}

}  // namespace

// ---- values -------------------------------------------------------------------------

TEST_CASE("LSTMCell and GRUCell follow PyTorch's gate equations", "[nn][rnn]") {
  manual_seed(1);
  nn::LSTMCell lstm(4, 5, true, f64);
  nn::GRUCell gru(4, 5, true, f64);
  const Tensor x = random({3, 4}), h = random({3, 5}), c = random({3, 5});
  const nn::LSTMState next = lstm(x, {h, c});
  const Tensor gru_next = gru(x, h);
  Vec lstm_h, lstm_c, gru_h;
  for (std::int64_t n = 0; n < 3; ++n) {
    const Vec xn = x.select(0, n).to_vector<double>();
    Vec hn = h.select(0, n).to_vector<double>(), cn = c.select(0, n).to_vector<double>(), gn = hn;
    ref_lstm_step(ref_weights(lstm), xn, hn, cn);
    ref_gru_step(ref_weights(gru), xn, gn, cn);
    lstm_h.insert(lstm_h.end(), hn.begin(), hn.end());
    lstm_c.insert(lstm_c.end(), cn.begin(), cn.end());
    gru_h.insert(gru_h.end(), gn.begin(), gn.end());
  }
  check_close(next.h, lstm_h);
  check_close(next.c, lstm_c);
  check_close(gru_next, gru_h);
}

TEST_CASE("a cell starts from zeros without a state and takes unbatched input", "[nn][rnn]") {
  manual_seed(2);
  nn::LSTMCell lstm(3, 2, true, f64);
  nn::GRUCell gru(3, 2, false, f64);
  CHECK_FALSE(gru.bias_ih);
  const Tensor x = random({4, 3});
  const Tensor zero = zeros({4, 2}, f64);
  const nn::LSTMState from_default = lstm(x), from_zeros = lstm(x, {zero, zero});
  CHECK(max_abs_diff(from_default.h, from_zeros.h) == 0);
  CHECK(max_abs_diff(from_default.c, from_zeros.c) == 0);
  CHECK(max_abs_diff(gru(x), gru(x, zero)) == 0);

  const Tensor h = random({4, 2}), c = random({4, 2});
  const nn::LSTMState batched = lstm(x, {h, c});
  const nn::LSTMState single = lstm(x.select(0, 1), {h.select(0, 1), c.select(0, 1)});
  CHECK(single.h.shape() == Shape{2});
  CHECK(max_abs_diff(single.h, batched.h.select(0, 1)) < 1e-15);
  CHECK(max_abs_diff(single.c, batched.c.select(0, 1)) < 1e-15);
  CHECK(max_abs_diff(gru(x.select(0, 2), h.select(0, 2)), gru(x, h).select(0, 2)) < 1e-15);
  CHECK(gru(x.select(0, 2)).shape() == Shape{2});
}

TEST_CASE("a 2-layer LSTM and GRU match PyTorch's equations step by step", "[nn][rnn]") {
  check_against_reference({.input_size = 3, .hidden_size = 4, .num_layers = 2});
}

TEST_CASE("a bidirectional 2-layer LSTM and GRU match PyTorch's equations", "[nn][rnn]") {
  check_against_reference(
      {.input_size = 2, .hidden_size = 3, .num_layers = 2, .bidirectional = true});
}

TEST_CASE("a layer without bias matches the reference with zero biases", "[nn][rnn]") {
  auto lstm = make_lstm({.input_size = 2, .hidden_size = 3, .bias = false}, 13);
  CHECK(lstm->parameters().size() == 2);
  const Tensor x = random({3, 2, 2});
  RefWeights w{lstm->weights(0).weight_ih->value().to_vector<double>(),
               lstm->weights(0).weight_hh->value().to_vector<double>(), Vec(12, 0.0), Vec(12, 0.0)};
  const Vec zero(6, 0.0);
  const RefResult ref =
      ref_run(ref_lstm_step, {w}, sizes_of(*lstm, 3, 2), x.to_vector<double>(), zero, zero);
  check_close(lstm->forward(x).output, ref.output);
}

TEST_CASE("batch_first takes and returns [N, T, features] and keeps the states' layout",
          "[nn][rnn]") {
  const nn::RecurrentOptions time_major{
      .input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true};
  nn::RecurrentOptions batch_major = time_major;
  batch_major.batch_first = true;
  auto lstm = make_lstm(time_major, 21), lstm_bf = make_lstm(batch_major, 21);
  auto gru = make_gru(time_major, 22), gru_bf = make_gru(batch_major, 22);
  const Tensor x = random({5, 2, 3});
  const Tensor x_bf = x.transpose(0, 1).contiguous();

  // Equal up to rounding: the two layouts may take different GEMM kernels.
  const auto a = lstm->forward(x), b = lstm_bf->forward(x_bf);
  CHECK(b.output.shape() == Shape{2, 5, 8});
  CHECK(b.state.h.shape() == Shape{4, 2, 4});
  CHECK(max_abs_diff(a.output.transpose(0, 1), b.output) < 1e-12);
  CHECK(max_abs_diff(a.state.h, b.state.h) < 1e-12);
  CHECK(max_abs_diff(a.state.c, b.state.c) < 1e-12);

  const auto g = gru->forward(x), g_bf = gru_bf->forward(x_bf);
  CHECK(max_abs_diff(g.output.transpose(0, 1), g_bf.output) < 1e-12);
  CHECK(max_abs_diff(g.h, g_bf.h) < 1e-12);
}

TEST_CASE("a sequence run in two chunks, the state carried over, equals one run", "[nn][rnn]") {
  const nn::RecurrentOptions options{.input_size = 2, .hidden_size = 3, .num_layers = 2};
  auto lstm = make_lstm(options, 31);
  auto gru = make_gru(options, 32);
  const Tensor x = random({6, 2, 2});
  const Tensor first = narrow(x, 0, 0, 4), rest = narrow(x, 0, 4, 2);

  const auto whole = lstm->forward(x);
  const auto head = lstm->forward(first);
  const auto tail = lstm->forward(rest, head.state);
  CHECK(max_abs_diff(cat({head.output, tail.output}, 0), whole.output) < 1e-14);
  CHECK(max_abs_diff(tail.state.h, whole.state.h) < 1e-14);
  CHECK(max_abs_diff(tail.state.c, whole.state.c) < 1e-14);

  const auto gru_whole = gru->forward(x);
  const auto gru_tail = gru->forward(rest, gru->forward(first).h);
  CHECK(max_abs_diff(gru_tail.h, gru_whole.h) < 1e-14);
}

TEST_CASE("the output's last step is the last layer's final h", "[nn][rnn]") {
  auto lstm = make_lstm({.input_size = 2, .hidden_size = 3, .num_layers = 3}, 33);
  const auto result = lstm->forward(random({4, 2, 2}));
  CHECK(max_abs_diff(result.output.select(0, 3), result.state.h.select(0, 2)) == 0);
}

TEST_CASE("dropout between layers acts in training mode only", "[nn][rnn]") {
  const nn::RecurrentOptions options{
      .input_size = 2, .hidden_size = 8, .num_layers = 2, .dropout = 0.5};
  nn::RecurrentOptions without = options;
  without.dropout = 0;
  auto lstm = make_lstm(options, 41), plain = make_lstm(without, 41);
  const Tensor x = random({3, 4, 2});
  CHECK(max_abs_diff(lstm->forward(x).output, plain->forward(x).output) > 1e-3);
  lstm->eval();
  CHECK(max_abs_diff(lstm->forward(x).output, plain->forward(x).output) == 0);
}

// ---- gradients ------------------------------------------------------------------------

TEST_CASE("gradcheck of a 2-layer LSTM with respect to input, state and every weight",
          "[nn][rnn][gradcheck]") {
  auto lstm =
      make_lstm({.input_size = 2, .hidden_size = 2, .num_layers = 2, .bidirectional = true}, 51);
  std::vector<Tensor> inputs{random({3, 2, 2}).requires_grad_(), random({4, 2, 2}).requires_grad_(),
                             random({4, 2, 2}).requires_grad_()};
  for (const Tensor& p : lstm->parameters()) inputs.push_back(p);
  CHECK(gradcheck(
      [&](const std::vector<Tensor>& in) {
        const auto r = lstm->forward(in[0], {in[1], in[2]});
        return cat({r.output.flatten(), r.state.h.flatten(), r.state.c.flatten()});
      },
      inputs));
}

TEST_CASE("gradcheck of a 2-layer GRU with respect to input, state and every weight",
          "[nn][rnn][gradcheck]") {
  auto gru =
      make_gru({.input_size = 2, .hidden_size = 2, .num_layers = 2, .batch_first = true}, 52);
  std::vector<Tensor> inputs{random({2, 3, 2}).requires_grad_(),
                             random({2, 2, 2}).requires_grad_()};
  for (const Tensor& p : gru->parameters()) inputs.push_back(p);
  CHECK(gradcheck(
      [&](const std::vector<Tensor>& in) {
        const auto r = gru->forward(in[0], in[1]);
        return cat({r.output.flatten(), r.h.flatten()});
      },
      inputs));
}

TEST_CASE("gradcheck of LSTMCell and GRUCell", "[nn][rnn][gradcheck]") {
  manual_seed(53);
  nn::LSTMCell lstm(3, 2, true, f64);
  nn::GRUCell gru(3, 2, true, f64);
  std::vector<Tensor> inputs{random({2, 3}).requires_grad_(), random({2, 2}).requires_grad_(),
                             random({2, 2}).requires_grad_()};
  for (const Tensor& p : lstm.parameters()) inputs.push_back(p);
  for (const Tensor& p : gru.parameters()) inputs.push_back(p);
  CHECK(gradcheck(
      [&](const std::vector<Tensor>& in) {
        const nn::LSTMState next = lstm(in[0], {in[1], in[2]});
        return cat({next.h.flatten(), next.c.flatten(), gru(in[0], in[1]).flatten()});
      },
      inputs));
}

// ---- names, initialisation, errors ----------------------------------------------------

TEST_CASE("state_dict keys are PyTorch's", "[nn][rnn]") {
  nn::LSTM lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : lstm.state_dict()) keys.push_back(key);
  std::vector<std::string> expected;
  for (const char* name : {"bias_hh", "bias_ih", "weight_hh", "weight_ih"})
    for (const char* suffix : {"_l0", "_l0_reverse", "_l1", "_l1_reverse"})
      expected.push_back(std::string(name) + suffix);
  CHECK(keys == expected);
  const auto state = lstm.state_dict();
  CHECK(state.at("weight_ih_l0").shape() == Shape{16, 3});
  CHECK(state.at("weight_ih_l1").shape() == Shape{16, 8});
  CHECK(state.at("weight_hh_l1_reverse").shape() == Shape{16, 4});
  CHECK(state.at("bias_hh_l0").shape() == Shape{16});

  nn::GRUCell cell(3, 4);
  keys.clear();
  for (const auto& [key, tensor] : cell.state_dict()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"bias_hh", "bias_ih", "weight_hh", "weight_ih"});
  CHECK(cell.state_dict().at("weight_hh").shape() == Shape{12, 4});
}

TEST_CASE("weights start U(-1/sqrt(hidden), 1/sqrt(hidden))", "[nn][rnn]") {
  manual_seed(61);
  nn::GRU gru({.input_size = 50, .hidden_size = 16});
  for (const Tensor& p : gru.parameters()) {
    CHECK(amax(abs(p)).item<double>() <= 0.25);
    CHECK(amax(abs(p)).item<double>() > 0.2);
  }
}

TEST_CASE("recurrent layers reject wrong shapes and options, naming the layer", "[nn][rnn]") {
  nn::LSTM lstm({.input_size = 3, .hidden_size = 2, .num_layers = 2});
  CHECK_THROWS_WITH(lstm(randn({5, 2, 4})),
                    "LSTM: expected input of shape [T, N, 3] (or [N, T, 3] with batch_first), "
                    "got [5, 2, 4]");
  CHECK_THROWS_AS(lstm(randn({5, 3})), ShapeError);
  CHECK_THROWS_WITH(lstm(randn({0, 2, 3})), Catch::Contains("at least one step"));
  const Tensor state = zeros({2, 2, 2});
  CHECK_THROWS_WITH(lstm(randn({5, 3, 3}), {state, state}),
                    "LSTM: expected h0 of shape [2, 3, 2], got [2, 2, 2]");
  CHECK_THROWS_WITH(lstm(randn({5, 2, 3}), {state, {}}),
                    "LSTM: expected both h and c of the state or neither, got only h");
  CHECK_THROWS_WITH(lstm.weights(2), Catch::Contains("LSTM: expected a layer below 2"));
  CHECK_THROWS_AS(lstm.weights(0, true), IndexError);

  nn::GRU gru({.input_size = 3, .hidden_size = 2});
  CHECK_THROWS_WITH(gru(randn({5, 2, 3}), zeros({1, 2, 3})),
                    "GRU: expected h0 of shape [1, 2, 2], got [1, 2, 3]");
  CHECK_THROWS_WITH(nn::GRU({.input_size = 3, .hidden_size = 0}),
                    Catch::Contains("GRU: expected positive input_size"));
  CHECK_THROWS_WITH(nn::LSTM({.input_size = 3, .hidden_size = 2, .dropout = 1}),
                    "LSTM: expected dropout in [0, 1), got 1");

  nn::LSTMCell cell(3, 2);
  CHECK_THROWS_WITH(cell(randn({4, 2})),
                    "LSTMCell: expected input of shape [N, 3] or [3], got [4, 2]");
  CHECK_THROWS_WITH(cell(randn({4, 3}), {zeros({4, 2}), zeros({2})}),
                    "LSTMCell: expected c of shape [4, 2] for input of shape [4, 3], got [2]");
  CHECK_THROWS_WITH(nn::GRUCell(3, 2)(randn({3}), zeros({1, 2})),
                    "GRUCell: expected h of shape [2] for input of shape [3], got [1, 2]");
  CHECK_THROWS_AS(nn::GRUCell(0, 2), ValueError);
}

TEST_CASE("LSTM and GRU on CUDA match the CPU, gradients included", "[nn][rnn][cuda]") {
  if (!cuda_is_available()) {
    std::cout << "TETHER_TEST_SKIPPED: no usable CUDA device in this build or machine" << std::endl;
    return;
  }
  const nn::RecurrentOptions options{
      .input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true};
  const Tensor x = random({5, 2, 3});
  auto cpu_lstm = make_lstm(options, 55), gpu_lstm = make_lstm(options, 55);
  auto cpu_gru = make_gru(options, 56), gpu_gru = make_gru(options, 56);
  gpu_lstm->to(Device::cuda());
  gpu_gru->to(Device::cuda());
  const Tensor x_gpu = x.to(Device::cuda());
  const auto loss = [](const Tensor& output, const Tensor& h) {
    return (output * output).sum() + h.sum();
  };
  const auto cpu = cpu_lstm->forward(x), gpu = gpu_lstm->forward(x_gpu);
  CHECK(gpu.output.device() == Device::cuda());
  loss(cpu.output, cpu.state.c).backward();
  loss(gpu.output, gpu.state.c).backward();
  CHECK(max_abs_diff(gpu.output.to(Device::cpu()), cpu.output) < 1e-12);
  CHECK(max_abs_diff(gpu.state.h.to(Device::cpu()), cpu.state.h) < 1e-12);
  const auto cpu_g = cpu_gru->forward(x), gpu_g = gpu_gru->forward(x_gpu);
  loss(cpu_g.output, cpu_g.h).backward();
  loss(gpu_g.output, gpu_g.h).backward();
  CHECK(max_abs_diff(gpu_g.output.to(Device::cpu()), cpu_g.output) < 1e-12);
  std::vector<Tensor> on_cpu = cpu_lstm->parameters(), on_gpu = gpu_lstm->parameters();
  for (const Tensor& p : cpu_gru->parameters()) on_cpu.push_back(p);
  for (const Tensor& p : gpu_gru->parameters()) on_gpu.push_back(p);
  REQUIRE(on_cpu.size() == on_gpu.size());
  for (std::size_t i = 0; i < on_cpu.size(); ++i)
    CHECK(max_abs_diff(on_gpu[i].grad().to(Device::cpu()), on_cpu[i].grad()) < 1e-10);
}

// ---- constraints and training ----------------------------------------------------------

TEST_CASE("an orthogonal recurrent weight stays orthonormal while an LSTM trains",
          "[nn][rnn][orthogonal]") {
  auto lstm = make_lstm({.input_size = 3, .hidden_size = 4}, 71);
  nn::RecurrentWeights& layer = lstm->weights(0);
  layer.weight_hh = constrain(layer.weight_hh, constraints::orthogonal());
  auto& computed = dynamic_cast<ComputedParameter&>(*layer.weight_hh);
  const auto state = lstm->state_dict();
  CHECK(state.at("weight_hh_l0.raw").shape() == Shape{16, 4});
  CHECK(state.at("weight_hh_l0.base").shape() == Shape{16, 16});

  const Tensor x = random({5, 8, 3}), target = random({8, 4}) * 0.5;
  optim::Adam adam(lstm->parameters(), {.lr = 0.02});
  std::vector<double> losses;
  for (int step = 0; step < 30; ++step) {
    const std::uint64_t recomputes = computed.recompute_count();
    adam.zero_grad();
    const Tensor loss = nn::mse_loss(lstm->forward(x).state.h.select(0, 0), target);
    // One value() per forward call, not one per time step, and computed once.
    CHECK(computed.recompute_count() == recomputes + 1);
    loss.backward();
    adam.step();
    losses.push_back(loss.item<double>());
  }
  const Tensor w = layer.weight_hh->value();
  CHECK(w.shape() == Shape{16, 4});
  CHECK(max_abs_diff(matmul(w.t(), w), eye(4, {}, f64)) < 1e-10);
  CHECK(losses.back() < 0.5 * losses.front());
}

TEST_CASE("an LSTM learns to recall its first input after five more steps", "[nn][rnn][train]") {
  manual_seed(81);
  nn::LSTM lstm({.input_size = 1, .hidden_size = 16});
  nn::Linear head(16, 1);
  std::vector<Tensor> parameters = lstm.parameters();
  for (const Tensor& p : head.parameters()) parameters.push_back(p);
  optim::Adam adam(parameters, {.lr = 0.01});
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    const Tensor x = rand({6, 32, 1}) * 2 - 1;
    adam.zero_grad();
    const Tensor prediction = head(lstm(x).output.select(0, 5));
    const Tensor loss = nn::mse_loss(prediction, x.select(0, 0));
    loss.backward();
    adam.step();
    if (step < 10) first += loss.item<double>() / 10;
    if (step >= 290) last += loss.item<double>() / 10;
  }
  INFO("mean loss over the first 10 steps " << first << ", over the last 10 " << last);
  CHECK(last < first / 10);
}
