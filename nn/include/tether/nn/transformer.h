// Transformer layers, as torch.nn's: TransformerEncoderLayer,
// TransformerDecoderLayer and TransformerEncoder, with torch's arguments and
// state_dict keys (self_attn.in_proj_weight, linear1.weight, norm1.weight,
// layers.0.self_attn..., so weights move between the two); and the
// sinusoidal position encoding of "Attention Is All You Need".
//
//   nn::TransformerEncoderLayer layer(128, 4, {.dim_feedforward = 512, .batch_first = true});
//   Tensor y = layer.forward(x, causal_mask);  // x [N, L, 128]
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tether/nn/attention.h"
#include "tether/nn/dropout.h"
#include "tether/nn/linear.h"
#include "tether/nn/normalization.h"
#include "tether/ops.h"

namespace tether::nn {

/// The optional arguments of TransformerEncoderLayer and
/// TransformerDecoderLayer, as torch's keywords and defaults.
struct TransformerLayerOptions {
  std::int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  /// Between linear1 and linear2: tether::relu (torch's default) or
  /// tether::gelu, or any function of one tensor.
  std::function<Tensor(const Tensor&)> activation = relu;
  double layer_norm_eps = 1e-5;
  /// Inputs and outputs [N, L, d_model] rather than [L, N, d_model].
  bool batch_first = false;
  /// LayerNorm before each block (pre-norm) rather than after the residual sum.
  bool norm_first = false;
  TensorOptions options = {};
};

/// What both transformer layers have: self-attention (self_attn, then
/// dropout1) and a feed-forward block (linear1, activation, dropout, linear2,
/// dropout2), each in a residual connection with a LayerNorm (norm1, norm2).
class TransformerLayer : public Module {
 public:
  std::int64_t d_model() const { return d_model_; }
  std::int64_t nhead() const { return nhead_; }
  const TransformerLayerOptions& options() const { return options_; }

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 protected:
  /// Throws ValueError as MultiheadAttention(d_model, nhead) does, or for a
  /// dim_feedforward that is not positive.
  TransformerLayer(std::int64_t d_model, std::int64_t nhead, TransformerLayerOptions options);

  /// x + block(norm(x)) with norm_first, norm(x + block(x)) without.
  Tensor residual(const Tensor& x, LayerNorm& norm,
                  const std::function<Tensor(const Tensor&)>& block) const;
  /// dropout1 of the self-attention of x.
  Tensor self_attention(const Tensor& x, const Tensor& mask, const Tensor& key_padding_mask);
  /// last(linear2(dropout(activation(linear1(x))))); `last` is dropout2 in
  /// the encoder layer, dropout3 in the decoder layer, as in torch.
  Tensor feed_forward(const Tensor& x, Dropout& last);

 private:
  std::int64_t d_model_;
  std::int64_t nhead_;
  TransformerLayerOptions options_;
};

/// A TransformerLayer: self-attention, then the feed-forward block.
class TransformerEncoderLayer : public TransformerLayer {
 public:
  /// Throws ValueError as MultiheadAttention(d_model, nhead) does, or for a
  /// dim_feedforward that is not positive.
  TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead,
                          TransformerLayerOptions options = {});

  /// src [L, N, d_model] (batch_first: [N, L, d_model]) -> the same shape.
  /// src_mask [L, L] (or [N * nhead, L, L]) and src_key_padding_mask [N, L]
  /// are bool or additive, as MultiheadAttention's.
  Tensor forward(const Tensor& src, const Tensor& src_mask = {},
                 const Tensor& src_key_padding_mask = {});
};

/// A TransformerLayer with attention to the encoder's output (memory)
/// between its self-attention and its feed-forward block: multihead_attn,
/// dropout2 and norm2; the feed-forward block then has dropout3 and norm3.
class TransformerDecoderLayer : public TransformerLayer {
 public:
  /// Throws ValueError as TransformerEncoderLayer.
  TransformerDecoderLayer(std::int64_t d_model, std::int64_t nhead,
                          TransformerLayerOptions options = {});

  /// tgt [T, N, d_model] and memory [S, N, d_model] (batch_first: N first)
  /// -> tgt's shape. Additive masks: tgt_mask [T, T], memory_mask [T, S],
  /// tgt_key_padding_mask [N, T], memory_key_padding_mask [N, S].
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {});

  std::shared_ptr<MultiheadAttention> multihead_attn;
  std::shared_ptr<Dropout> dropout3;
  std::shared_ptr<LayerNorm> norm3;
};

/// num_layers encoder layers applied in turn, then `norm` if given. As
/// torch's deep copies, every layer starts with `layer`'s weights (the
/// layers are built from its arguments and load its state_dict); `layer`
/// itself is not one of them. Constrain the layers' slots after building the
/// encoder: a constrained `layer` is refused (ValueError).
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(TransformerEncoderLayer& layer, std::int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);

  /// As TransformerEncoderLayer::forward, through every layer.
  Tensor forward(const Tensor& src, const Tensor& mask = {},
                 const Tensor& src_key_padding_mask = {});

  std::vector<std::shared_ptr<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;  ///< null without a final norm
};

/// num_layers decoder layers applied in turn to tgt, each attending to the
/// same memory, then `norm` if given; the layers start as TransformerEncoder's
/// do (copies of `layer`'s weights; a constrained `layer` is refused).
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(TransformerDecoderLayer& layer, std::int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);

  /// As TransformerDecoderLayer::forward, through every layer.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {});

  std::vector<std::shared_ptr<TransformerDecoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;  ///< null without a final norm
};

/// The additive causal mask [size, size] for a sequence: 0 on and below the
/// diagonal, -inf above (a position sees itself and earlier ones), as torch's
/// Transformer.generate_square_subsequent_mask.
Tensor generate_square_subsequent_mask(std::int64_t size, TensorOptions options = {});

/// The sinusoidal position encoding [length, d_model] of Vaswani et al.
/// (2017): column 2i is sin(pos / 10000^(2i / d_model)), column 2i + 1 its
/// cos. Added to token embeddings of a sequence of up to `length`
/// positions. Throws ValueError unless length >= 0 and d_model > 0.
Tensor sinusoidal_position_encoding(std::int64_t length, std::int64_t d_model,
                                    TensorOptions options = {});

}  // namespace tether::nn
