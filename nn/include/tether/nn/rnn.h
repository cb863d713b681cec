// Recurrent layers, as torch.nn's: LSTMCell and GRUCell take one step, LSTM
// and GRU run a whole sequence through one or more stacked layers.
//
//   tether::nn::LSTM lstm({.input_size = 3, .hidden_size = 8, .num_layers = 2});
//   auto [output, state] = lstm(x);        // x [T, N, 3] -> output [T, N, 8]
//   auto next = lstm(x2, state);           // carry (h, c) into the next chunk
//   // every weight is a slot: keep the first layer's recurrent weight orthogonal
//   auto& layer0 = lstm.weights(0);
//   layer0.weight_hh = tether::constrain(layer0.weight_hh, tether::constraints::orthogonal());
//
// Gates follow PyTorch's order and equations, and the state_dict keys are
// PyTorch's (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._l1,
// ..._l0_reverse), so a checkpoint's tensors line up with torch.nn.LSTM's.
// Every weight is read through value() once per forward call, so a constraint
// on it is computed once per call, not once per time step. The input's share
// of the gates is one product over the whole sequence per layer; only the
// recurrent product runs step by step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tether/nn/dropout.h"
#include "tether/nn/module.h"

namespace tether::nn {

/// The parameter slots of one recurrent layer (one direction of it), with
/// `gates` blocks of `hidden_size` rows stacked in each weight (LSTM: i, f, g,
/// o; GRU: r, z, n). All start U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
struct RecurrentWeights {
  std::shared_ptr<Parameter> weight_ih;  ///< [gates * hidden_size, input_size]
  std::shared_ptr<Parameter> weight_hh;  ///< [gates * hidden_size, hidden_size]
  std::shared_ptr<Parameter> bias_ih;    ///< [gates * hidden_size], null without bias
  std::shared_ptr<Parameter> bias_hh;    ///< [gates * hidden_size], null without bias
};

/// What LSTMCell and LSTM carry from step to step: the hidden state h and the
/// cell state c, each [N, hidden_size] for a cell ([hidden_size] for an
/// unbatched input) and [num_layers * directions, N, hidden_size] for LSTM.
/// Both undefined means zeros.
struct LSTMState {
  Tensor h;
  Tensor c;
};

/// The parts LSTMCell, GRUCell, LSTM and GRU share: their weight slots.
class RecurrentModule : public Module {
 protected:
  /// Registers `weights` as weight_ih<suffix>, weight_hh<suffix>, ... with
  /// their initial values. `weights` must stay where it is (slots are
  /// registered by reference).
  void register_weights(RecurrentWeights& weights, const std::string& suffix,
                        std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates,
                        bool bias, const TensorOptions& options);
};

/// One step of a recurrent layer: the four slots named as PyTorch's cells'.
class RecurrentCell : public RecurrentModule, public RecurrentWeights {
 public:
  std::int64_t input_size() const { return input_size_; }
  std::int64_t hidden_size() const { return hidden_size_; }

 protected:
  /// Throws ValueError unless both sizes are positive.
  RecurrentCell(std::string layer, std::int64_t input_size, std::int64_t hidden_size,
                std::int64_t gates, bool bias, const TensorOptions& options);
  /// x [N, input_size], or [input_size] (unbatched) as [1, input_size];
  /// throws ShapeError naming the layer otherwise.
  Tensor batch(const Tensor& x) const;
  /// A state for x as [N, hidden_size]: zeros when undefined, else checked to
  /// be [N, hidden_size] for x [N, input_size] and [hidden_size] for x
  /// [input_size] (throws ShapeError naming the layer and `name` otherwise).
  Tensor initial_state(const Tensor& x, const Tensor& state, const char* name) const;

  std::string layer_;
  std::int64_t input_size_;
  std::int64_t hidden_size_;
};

/// torch.nn.LSTMCell: gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split into
/// i, f, g, o; c' = sigmoid(f) * c + sigmoid(i) * tanh(g), h' = sigmoid(o) *
/// tanh(c').
class LSTMCell : public RecurrentCell {
 public:
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true,
           TensorOptions options = {});

  /// One step from `state` (zeros when both tensors are undefined) to the
  /// next (h', c'). Throws ShapeError naming LSTMCell for a wrong input or
  /// state shape, ValueError when only one of h and c is given.
  LSTMState forward(const Tensor& x, const LSTMState& state = {});
  LSTMState operator()(const Tensor& x, const LSTMState& state = {}) { return forward(x, state); }
};

/// torch.nn.GRUCell: r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
/// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
class GRUCell : public RecurrentCell {
 public:
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true,
          TensorOptions options = {});

  /// One step from h (zeros when undefined) to h'. Throws ShapeError naming
  /// GRUCell for a wrong input or state shape.
  Tensor forward(const Tensor& x, const Tensor& h = {});
  Tensor operator()(const Tensor& x, const Tensor& h = {}) { return forward(x, h); }
};

/// The options of LSTM and GRU, as torch.nn.LSTM's arguments.
struct RecurrentOptions {
  std::int64_t input_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 1;
  bool bias = true;
  /// Input and output [N, T, features] instead of [T, N, features] (the
  /// states stay [num_layers * directions, N, hidden_size], as PyTorch's).
  bool batch_first = false;
  /// Dropout probability on each layer's output but the last, in training mode.
  double dropout = 0.0;
  /// A second pass of each layer from the last step to the first, its output
  /// concatenated to the forward pass's.
  bool bidirectional = false;
};

/// What LSTM and GRU share: the stacked layers, their slots and the loop over
/// time. Layer l's weights are weights(l) (and weights(l, true) for its
/// reverse direction); its input is layer l - 1's output, both directions
/// concatenated, [T, N, directions * hidden_size].
class RecurrentLayers : public RecurrentModule {
 public:
  const RecurrentOptions& options() const { return options_; }
  std::int64_t directions() const { return options_.bidirectional ? 2 : 1; }
  /// The slots of one layer and direction; throws IndexError for a layer past
  /// num_layers or a reverse direction of a unidirectional module. Replace a
  /// slot here to constrain it.
  RecurrentWeights& weights(std::int64_t layer, bool reverse = false);

 protected:
  /// Throws ValueError naming `layer` for non-positive sizes or layer count
  /// and for dropout outside [0, 1). `cell_state`: the layer carries c as well
  /// as h (LSTM).
  RecurrentLayers(std::string layer, RecurrentOptions options, std::int64_t gates, bool cell_state,
                  const TensorOptions& tensor_options);

  /// Runs x through every layer from `initial` (undefined tensors = zeros; c
  /// only with cell_state) and returns the last layer's output, in x's layout.
  /// `final` receives every layer's and direction's last h (and c), stacked in
  /// PyTorch's order, [num_layers * directions, N, hidden_size].
  Tensor run(const Tensor& x, const LSTMState& initial, LSTMState& final);

  /// One time step of one layer: `input_gates` [N, gates * hidden_size] is
  /// this step's x W_ih^T + b_ih; h (and c) advance in place.
  virtual void step(const Tensor& input_gates, const Tensor& weight_hh, const Tensor& bias_hh,
                    Tensor& h, Tensor& c) const = 0;

 private:
  /// x [T, N, features] (time-major) or throws ShapeError naming the layer.
  void check_input(const Tensor& x) const;
  /// An initial state must be [num_layers * directions, N, hidden_size].
  void check_state(const Tensor& state, std::int64_t batch, const char* name) const;

  std::string layer_;
  RecurrentOptions options_;
  bool cell_state_;
  std::vector<RecurrentWeights> weights_;  ///< layer by layer, forward then reverse
  Dropout dropout_;
};

/// torch.nn.LSTM: LSTMCell's step over a sequence, through num_layers layers.
class LSTM : public RecurrentLayers {
 public:
  explicit LSTM(RecurrentOptions options, TensorOptions tensor_options = {});

  struct Result {
    Tensor output;    ///< [T, N, directions * hidden_size] ([N, T, ...] with batch_first)
    LSTMState state;  ///< h_n and c_n, each [num_layers * directions, N, hidden_size]
  };
  /// x [T, N, input_size] ([N, T, input_size] with batch_first) from `state`
  /// (zeros when both tensors are undefined). Throws ShapeError naming LSTM for
  /// a wrong input or state shape, ValueError when only one of h and c is given.
  Result forward(const Tensor& x, const LSTMState& state = {});
  Result operator()(const Tensor& x, const LSTMState& state = {}) { return forward(x, state); }

 private:
  void step(const Tensor& input_gates, const Tensor& weight_hh, const Tensor& bias_hh, Tensor& h,
            Tensor& c) const override;
};

/// torch.nn.GRU: GRUCell's step over a sequence, through num_layers layers.
class GRU : public RecurrentLayers {
 public:
  explicit GRU(RecurrentOptions options, TensorOptions tensor_options = {});

  struct Result {
    Tensor output;  ///< [T, N, directions * hidden_size] ([N, T, ...] with batch_first)
    Tensor h;       ///< h_n, [num_layers * directions, N, hidden_size]
  };
  /// x [T, N, input_size] ([N, T, input_size] with batch_first) from h (zeros
  /// when undefined). Throws ShapeError naming GRU for a wrong input or state shape.
  Result forward(const Tensor& x, const Tensor& h = {});
  Result operator()(const Tensor& x, const Tensor& h = {}) { return forward(x, h); }

 private:
  void step(const Tensor& input_gates, const Tensor& weight_hh, const Tensor& bias_hh, Tensor& h,
            Tensor& c) const override;
};

}  // namespace tether::nn
