#include "tether/nn/transformer.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tether/error.h"

namespace tether::nn {

TransformerLayer::TransformerLayer(std::int64_t d_model, std::int64_t nhead,
                                   TransformerLayerOptions options)
    : d_model_(d_model), nhead_(nhead), options_(std::move(options)) {
  const TransformerLayerOptions& o = options_;
  if (o.dim_feedforward <= 0)
    fail<ValueError>("TransformerLayer: expected a positive dim_feedforward, got ",
                     o.dim_feedforward);
  self_attn = register_module(
      "self_attn",
      std::make_shared<MultiheadAttention>(
          d_model, nhead,
          MultiheadAttentionOptions{
              .dropout = o.dropout, .batch_first = o.batch_first, .options = o.options}));
  linear1 = register_module("linear1",
                            std::make_shared<Linear>(d_model, o.dim_feedforward, true, o.options));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2",
                            std::make_shared<Linear>(o.dim_feedforward, d_model, true, o.options));
  const auto layer_norm = [&] {
    return std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, o.options);
  };
  norm1 = register_module("norm1", layer_norm());
  norm2 = register_module("norm2", layer_norm());
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerLayer::residual(const Tensor& x, LayerNorm& norm,
                                  const std::function<Tensor(const Tensor&)>& block) const {
  return options_.norm_first ? x + block(norm.forward(x)) : norm.forward(x + block(x));
}

Tensor TransformerLayer::self_attention(const Tensor& x, const Tensor& mask,
                                        const Tensor& key_padding_mask) {
  return dropout1->forward(self_attn->forward(x, x, x, key_padding_mask, false, mask).output);
}

Tensor TransformerLayer::feed_forward(const Tensor& x, Dropout& last) {
  return last.forward(linear2->forward(dropout->forward(options_.activation(linear1->forward(x)))));
}

TransformerEncoderLayer::TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead,
                                                 TransformerLayerOptions options)
    : TransformerLayer(d_model, nhead, std::move(options)) {}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask,
                                        const Tensor& src_key_padding_mask) {
  const Tensor x = residual(src, *norm1, [&](const Tensor& in) {
    return self_attention(in, src_mask, src_key_padding_mask);
  });
  return residual(x, *norm2, [&](const Tensor& in) { return feed_forward(in, *dropout2); });
}

TransformerDecoderLayer::TransformerDecoderLayer(std::int64_t d_model, std::int64_t nhead,
                                                 TransformerLayerOptions options)
    : TransformerLayer(d_model, nhead, options) {
  multihead_attn = register_module("multihead_attn",
                                   std::make_shared<MultiheadAttention>(
                                       d_model, nhead,
                                       MultiheadAttentionOptions{.dropout = options.dropout,
                                                                 .batch_first = options.batch_first,
                                                                 .options = options.options}));
  norm3 = register_module(
      "norm3",
      std::make_shared<LayerNorm>(Shape{d_model}, options.layer_norm_eps, true, options.options));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(options.dropout));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const Tensor& tgt_mask, const Tensor& memory_mask,
                                        const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask) {
  Tensor x = residual(tgt, *norm1, [&](const Tensor& in) {
    return self_attention(in, tgt_mask, tgt_key_padding_mask);
  });
  x = residual(x, *norm2, [&](const Tensor& in) {
    return dropout2->forward(
        multihead_attn->forward(in, memory, memory, memory_key_padding_mask, false, memory_mask)
            .output);
  });
  return residual(x, *norm3, [&](const Tensor& in) { return feed_forward(in, *dropout3); });
}

namespace {

/// num_layers layers built from `layer`'s arguments that load its
/// state_dict: torch's deep copies, without copying constraints (`owner`
/// refuses a constrained layer, naming itself).
template <class Layer>
std::vector<std::shared_ptr<Layer>> copies_of(const std::string& owner, Layer& layer,
                                              std::int64_t num_layers) {
  if (num_layers <= 0)
    fail<ValueError>(owner, ": expected a positive num_layers, got ", num_layers);
  for (const auto& [name, slot] : layer.named_slots())
    if (!dynamic_cast<const RawParameter*>(slot.get()))
      fail<ValueError>(owner, ": the layer's slot ", name,
                       " is not a raw parameter; constrain the ", owner,
                       "'s layers after building it (each layer is built anew and loads the "
                       "layer's state_dict)");
  const StateDict state = layer.state_dict();
  std::vector<std::shared_ptr<Layer>> copies;
  for (std::int64_t i = 0; i < num_layers; ++i) {
    auto copy = std::make_shared<Layer>(layer.d_model(), layer.nhead(), layer.options());
    copy->load_state_dict(state);
    copy->train(layer.is_training());
    copies.push_back(std::move(copy));
  }
  return copies;
}

}  // namespace

TransformerEncoder::TransformerEncoder(TransformerEncoderLayer& layer, std::int64_t num_layers,
                                       std::shared_ptr<LayerNorm> final_norm) {
  for (auto& copy : copies_of("TransformerEncoder", layer, num_layers))
    layers.push_back(register_module("layers." + std::to_string(layers.size()), std::move(copy)));
  if (final_norm) norm = register_module("norm", std::move(final_norm));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask,
                                   const Tensor& src_key_padding_mask) {
  Tensor x = src;
  for (const auto& layer : layers) x = layer->forward(x, mask, src_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

TransformerDecoder::TransformerDecoder(TransformerDecoderLayer& layer, std::int64_t num_layers,
                                       std::shared_ptr<LayerNorm> final_norm) {
  for (auto& copy : copies_of("TransformerDecoder", layer, num_layers))
    layers.push_back(register_module("layers." + std::to_string(layers.size()), std::move(copy)));
  if (final_norm) norm = register_module("norm", std::move(final_norm));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                   const Tensor& memory_key_padding_mask) {
  Tensor x = tgt;
  for (const auto& layer : layers)
    x = layer->forward(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                       memory_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

Tensor generate_square_subsequent_mask(std::int64_t size, TensorOptions options) {
  if (size < 0) fail<ValueError>("generate_square_subsequent_mask: expected size >= 0, got ", size);
  return triu(full({size, size}, -std::numeric_limits<double>::infinity(), options), 1);
}

Tensor sinusoidal_position_encoding(std::int64_t length, std::int64_t d_model,
                                    TensorOptions options) {
  if (length < 0 || d_model <= 0)
    fail<ValueError>("sinusoidal_position_encoding: expected length >= 0 and d_model > 0, got ",
                     length, " and ", d_model);
  std::vector<double> values(static_cast<std::size_t>(length * d_model));
  for (std::int64_t pos = 0; pos < length; ++pos)
    for (std::int64_t col = 0; col < d_model; ++col) {
      const double pair = static_cast<double>(col - col % 2);
      const double angle = static_cast<double>(pos) / std::pow(10000.0, pair / d_model);
      values[pos * d_model + col] = col % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  return tensor(values, {length, d_model}, options);
}

}  // namespace tether::nn
