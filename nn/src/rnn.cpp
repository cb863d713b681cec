#include "tether/nn/rnn.h"

#include <cmath>
#include <utility>

#include "tether/error.h"
#include "tether/nn/init.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

constexpr std::int64_t lstm_gates = 4;
constexpr std::int64_t gru_gates = 3;

Tensor optional_value(const std::shared_ptr<Parameter>& slot) {
  return slot ? slot->value() : Tensor();
}

/// The four weights of one layer, each read once per forward call.
struct WeightValues {
  explicit WeightValues(const RecurrentWeights& weights)
      : weight_ih(weights.weight_ih->value()),
        weight_hh(weights.weight_hh->value()),
        bias_ih(optional_value(weights.bias_ih)),
        bias_hh(optional_value(weights.bias_hh)) {}

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};

// The gates are computed as one [N, 4H] block and sliced. One sigmoid over the
// whole block (the g quarter's is never read) is two ops fewer per step than a
// sigmoid per quarter, and the per-op cost dominates at the sizes RNNs run at.
void lstm_step(const Tensor& input_gates, const Tensor& weight_hh, const Tensor& bias_hh, Tensor& h,
               Tensor& c) {
  const std::int64_t hidden = h.size(-1);
  const Tensor gates = input_gates + linear(h, weight_hh, bias_hh);
  const Tensor sigmoids = sigmoid(gates);
  const Tensor cell_input = tanh(narrow(gates, -1, 2 * hidden, hidden));
  c = narrow(sigmoids, -1, hidden, hidden) * c + narrow(sigmoids, -1, 0, hidden) * cell_input;
  h = narrow(sigmoids, -1, 3 * hidden, hidden) * tanh(c);
}

// r multiplies W_hn h + b_hn, so b_hh stays with the recurrent product here
// rather than being added to the input's share of the gates.
void gru_step(const Tensor& input_gates, const Tensor& weight_hh, const Tensor& bias_hh,
              Tensor& h) {
  const std::int64_t hidden = h.size(-1);
  const Tensor hidden_gates = linear(h, weight_hh, bias_hh);
  const Tensor reset_update =
      sigmoid(narrow(input_gates, -1, 0, 2 * hidden) + narrow(hidden_gates, -1, 0, 2 * hidden));
  const Tensor candidate =
      tanh(narrow(input_gates, -1, 2 * hidden, hidden) +
           narrow(reset_update, -1, 0, hidden) * narrow(hidden_gates, -1, 2 * hidden, hidden));
  // (1 - z) * n + z * h with one op fewer.
  h = candidate + narrow(reset_update, -1, hidden, hidden) * (h - candidate);
}

void check_both_or_neither(const std::string& layer, const LSTMState& state) {
  if (state.h.defined() != state.c.defined())
    fail<ValueError>(layer, ": expected both h and c of the state or neither, got only ",
                     state.h.defined() ? "h" : "c");
}

Tensor zero_state(const Tensor& like, const Shape& shape) {
  return zeros(shape, like.options());
}

/// `options`, once they are valid for `layer`.
RecurrentOptions checked(const std::string& layer, const RecurrentOptions& options) {
  if (options.input_size <= 0 || options.hidden_size <= 0 || options.num_layers <= 0)
    fail<ValueError>(layer, ": expected positive input_size, hidden_size and num_layers, got ",
                     options.input_size, ", ", options.hidden_size, " and ", options.num_layers);
  if (!(options.dropout >= 0 && options.dropout < 1))
    fail<ValueError>(layer, ": expected dropout in [0, 1), got ", options.dropout);
  return options;
}

}  // namespace

void RecurrentModule::register_weights(RecurrentWeights& weights, const std::string& suffix,
                                       std::int64_t input_size, std::int64_t hidden_size,
                                       std::int64_t gates, bool bias,
                                       const TensorOptions& options) {
  // PyTorch's default: every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  const TensorOptions initial = options.with_requires_grad(false);
  const auto add = [&](const char* name, std::shared_ptr<Parameter>& slot, const Shape& shape) {
    register_parameter(name + suffix, slot, zeros(shape, initial));
    init::uniform_(*slot, -bound, bound);
  };
  add("weight_ih", weights.weight_ih, {gates * hidden_size, input_size});
  add("weight_hh", weights.weight_hh, {gates * hidden_size, hidden_size});
  if (!bias) return;
  add("bias_ih", weights.bias_ih, {gates * hidden_size});
  add("bias_hh", weights.bias_hh, {gates * hidden_size});
}

// ---- cells -------------------------------------------------------------------

RecurrentCell::RecurrentCell(std::string layer, std::int64_t input_size, std::int64_t hidden_size,
                             std::int64_t gates, bool bias, const TensorOptions& options)
    : layer_(std::move(layer)), input_size_(input_size), hidden_size_(hidden_size) {
  if (input_size <= 0 || hidden_size <= 0)
    fail<ValueError>(layer_, ": expected positive input_size and hidden_size, got ", input_size,
                     " and ", hidden_size);
  register_weights(*this, "", input_size, hidden_size, gates, bias, options);
}

Tensor RecurrentCell::batch(const Tensor& x) const {
  if ((x.dim() != 1 && x.dim() != 2) || x.size(-1) != input_size_)
    fail<ShapeError>(layer_, ": expected input of shape [N, ", input_size_, "] or [", input_size_,
                     "], got ", x.shape());
  // Unbatched input runs as a batch of one.
  return x.dim() == 1 ? x.unsqueeze(0) : x;
}

Tensor RecurrentCell::initial_state(const Tensor& x, const Tensor& state, const char* name) const {
  if (!state.defined()) return zero_state(x, {x.dim() == 2 ? x.size(0) : 1, hidden_size_});
  const Shape expected = x.dim() == 2 ? Shape{x.size(0), hidden_size_} : Shape{hidden_size_};
  if (state.shape() != expected)
    fail<ShapeError>(layer_, ": expected ", name, " of shape ", expected, " for input of shape ",
                     x.shape(), ", got ", state.shape());
  return x.dim() == 1 ? state.unsqueeze(0) : state;
}

LSTMCell::LSTMCell(std::int64_t input_size, std::int64_t hidden_size, bool bias,
                   TensorOptions options)
    : RecurrentCell("LSTMCell", input_size, hidden_size, lstm_gates, bias, options) {}

LSTMState LSTMCell::forward(const Tensor& x, const LSTMState& state) {
  const Tensor rows = batch(x);
  check_both_or_neither(layer_, state);
  LSTMState next{initial_state(x, state.h, "h"), initial_state(x, state.c, "c")};
  const WeightValues w(*this);
  lstm_step(linear(rows, w.weight_ih, w.bias_ih), w.weight_hh, w.bias_hh, next.h, next.c);
  if (x.dim() == 1) return {next.h.squeeze(0), next.c.squeeze(0)};
  return next;
}

GRUCell::GRUCell(std::int64_t input_size, std::int64_t hidden_size, bool bias,
                 TensorOptions options)
    : RecurrentCell("GRUCell", input_size, hidden_size, gru_gates, bias, options) {}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) {
  const Tensor rows = batch(x);
  Tensor next = initial_state(x, h, "h");
  const WeightValues w(*this);
  gru_step(linear(rows, w.weight_ih, w.bias_ih), w.weight_hh, w.bias_hh, next);
  return x.dim() == 1 ? next.squeeze(0) : next;
}

// ---- sequence layers -----------------------------------------------------------

RecurrentLayers::RecurrentLayers(std::string layer, RecurrentOptions options, std::int64_t gates,
                                 bool cell_state, const TensorOptions& tensor_options)
    : layer_(std::move(layer)),
      options_(checked(layer_, options)),
      cell_state_(cell_state),
      dropout_(options.dropout) {
  // Sized once: the slots are registered by reference and must not move.
  weights_.resize(options.num_layers * directions());
  for (std::int64_t layer_index = 0; layer_index < options.num_layers; ++layer_index) {
    const std::int64_t input_size =
        layer_index == 0 ? options.input_size : directions() * options.hidden_size;
    for (std::int64_t direction = 0; direction < directions(); ++direction)
      register_weights(weights_[layer_index * directions() + direction],
                       "_l" + std::to_string(layer_index) + (direction ? "_reverse" : ""),
                       input_size, options.hidden_size, gates, options.bias, tensor_options);
  }
}

RecurrentWeights& RecurrentLayers::weights(std::int64_t layer, bool reverse) {
  if (layer < 0 || layer >= options_.num_layers || (reverse && !options_.bidirectional))
    fail<IndexError>(layer_, ": expected a layer below ", options_.num_layers,
                     options_.bidirectional ? "" : " (forward direction only)", ", got layer ",
                     layer, reverse ? " reverse" : "");
  return weights_[layer * directions() + (reverse ? 1 : 0)];
}

void RecurrentLayers::check_input(const Tensor& x) const {
  if (x.dim() != 3 || x.size(2) != options_.input_size)
    fail<ShapeError>(layer_, ": expected input of shape [T, N, ", options_.input_size,
                     "] (or [N, T, ", options_.input_size, "] with batch_first), got ", x.shape());
  if (x.size(options_.batch_first ? 1 : 0) == 0)
    fail<ShapeError>(layer_, ": expected a sequence of at least one step, got input ", x.shape());
}

void RecurrentLayers::check_state(const Tensor& state, std::int64_t batch, const char* name) const {
  const Shape expected{options_.num_layers * directions(), batch, options_.hidden_size};
  if (state.shape() != expected)
    fail<ShapeError>(layer_, ": expected ", name, " of shape ", expected, ", got ", state.shape());
}

Tensor RecurrentLayers::run(const Tensor& input, const LSTMState& initial, LSTMState& final) {
  check_input(input);
  Tensor x = options_.batch_first ? input.transpose(0, 1) : input;
  const std::int64_t steps = x.size(0), batch = x.size(1);
  if (initial.h.defined()) check_state(initial.h, batch, "h0");
  if (initial.c.defined()) check_state(initial.c, batch, "c0");
  const Tensor zero = zero_state(x, {batch, options_.hidden_size});
  std::vector<Tensor> final_h, final_c;
  for (std::int64_t layer = 0; layer < options_.num_layers; ++layer) {
    if (layer > 0 && is_training()) x = dropout_.forward(x);
    std::vector<Tensor> outputs;
    for (std::int64_t direction = 0; direction < directions(); ++direction) {
      const std::int64_t index = layer * directions() + direction;
      const WeightValues w(weights_[index]);
      // The input's share of every gate at every step in one product; only
      // the recurrent product is left inside the loop.
      // Cut into steps by one node (unbind), whose backward stacks the steps'
      // gradients in O(T); a view per step would pad each step's gradient to
      // the whole sequence, O(T^2).
      const std::vector<Tensor> input_gates = unbind(linear(x, w.weight_ih, w.bias_ih));
      Tensor h = initial.h.defined() ? initial.h.select(0, index) : zero;
      Tensor c;
      if (cell_state_) c = initial.c.defined() ? initial.c.select(0, index) : zero;
      std::vector<Tensor> hs(steps);
      for (std::int64_t s = 0; s < steps; ++s) {
        const std::int64_t t = direction == 0 ? s : steps - 1 - s;
        step(input_gates[t], w.weight_hh, w.bias_hh, h, c);
        hs[t] = h;
      }
      outputs.push_back(stack(hs, 0));
      final_h.push_back(h);
      if (cell_state_) final_c.push_back(c);
    }
    x = outputs.size() == 1 ? outputs[0] : cat(outputs, 2);
  }
  final.h = stack(final_h, 0);
  final.c = cell_state_ ? stack(final_c, 0) : Tensor();
  return options_.batch_first ? x.transpose(0, 1) : x;
}

LSTM::LSTM(RecurrentOptions options, TensorOptions tensor_options)
    : RecurrentLayers("LSTM", options, lstm_gates, true, tensor_options) {}

LSTM::Result LSTM::forward(const Tensor& x, const LSTMState& state) {
  check_both_or_neither("LSTM", state);
  Result result;
  result.output = run(x, state, result.state);
  return result;
}

void LSTM::step(const Tensor& input_gates, const Tensor& weight_hh, const Tensor& bias_hh,
                Tensor& h, Tensor& c) const {
  lstm_step(input_gates, weight_hh, bias_hh, h, c);
}

GRU::GRU(RecurrentOptions options, TensorOptions tensor_options)
    : RecurrentLayers("GRU", options, gru_gates, false, tensor_options) {}

GRU::Result GRU::forward(const Tensor& x, const Tensor& h) {
  LSTMState final;
  Tensor output = run(x, {h, {}}, final);
  return {output, final.h};
}

void GRU::step(const Tensor& input_gates, const Tensor& weight_hh, const Tensor& bias_hh, Tensor& h,
               Tensor&) const {
  gru_step(input_gates, weight_hh, bias_hh, h);
}

}  // namespace tether::nn
