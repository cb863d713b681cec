// MultiheadAttention, as torch.nn.MultiheadAttention: its arguments, its
// state_dict keys (so weights move between the two) and its outputs.
//
//   nn::MultiheadAttention attention(64, 4, {.batch_first = true});
//   auto [out, weights] = attention.forward(x, x, x);  // x [N, L, 64]
#pragma once

#include <cstdint>
#include <optional>

#include "tether/nn/linear.h"
#include "tether/nn/module.h"

namespace tether::nn {

/// MultiheadAttention's optional arguments, as torch's keywords.
struct MultiheadAttentionOptions {
  /// Dropout on the attention weights in training mode.
  double dropout = 0.0;
  /// Whether the input and output projections have biases.
  bool bias = true;
  /// Inputs and outputs [N, L, E] rather than [L, N, E].
  bool batch_first = false;
  /// Features of key and value (default embed_dim). When either differs,
  /// the projections are separate: q_proj_weight, k_proj_weight, v_proj_weight.
  std::optional<std::int64_t> kdim = std::nullopt;
  std::optional<std::int64_t> vdim = std::nullopt;
  TensorOptions options = {};
};

/// What MultiheadAttention::forward returns; `weights` is undefined unless
/// need_weights.
struct AttentionOutput {
  Tensor output;
  Tensor weights;
};

/// Attention of num_heads heads of embed_dim / num_heads features each:
/// the query, key and value are projected (packed in_proj_weight [3E, E] and
/// in_proj_bias [3E], or q/k/v_proj_weight with in_proj_bias when kdim or
/// vdim differ from embed_dim), attended per head by
/// scaled_dot_product_attention, joined and projected by out_proj. Initial
/// weights as torch's: Xavier-uniform projections, zero biases, out_proj's
/// weight as Linear's. torch's add_bias_kv and add_zero_attn are not offered.
class MultiheadAttention : public Module {
 public:
  /// Throws ValueError unless embed_dim and num_heads are positive and
  /// num_heads divides embed_dim, or for a dropout outside [0, 1].
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads,
                     MultiheadAttentionOptions options = {});

  /// query [L, N, E] (or [N, L, E] with batch_first, or unbatched [L, E]),
  /// key [S, N, kdim] and value [S, N, vdim] likewise -> output as query.
  /// Masks are bool (true = hide, as torch's) or additive (0 to attend, -inf
  /// to hide) in the query's dtype:
  /// key_padding_mask [N, S] (unbatched: [S]) hides keys per sequence,
  /// attn_mask [L, S] or [N * num_heads, L, S] per query; a query that sees
  /// no key gives NaN, as in torch. With need_weights, weights [N, L, S]
  /// averaged over heads (or [N, num_heads, L, S]) after dropout, as torch's;
  /// without, the output comes from the fused scaled_dot_product_attention.
  /// Throws ShapeError naming the layer for mismatched shapes.
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, bool need_weights = true,
                          const Tensor& attn_mask = {}, bool average_attn_weights = true);

  std::int64_t embed_dim() const { return embed_dim_; }
  std::int64_t num_heads() const { return num_heads_; }
  const MultiheadAttentionOptions& options() const { return options_; }

  std::shared_ptr<Parameter> in_proj_weight;  ///< [3E, E]; null with separate projections
  std::shared_ptr<Parameter> q_proj_weight;   ///< [E, E]; null when packed
  std::shared_ptr<Parameter> k_proj_weight;   ///< [E, kdim]; null when packed
  std::shared_ptr<Parameter> v_proj_weight;   ///< [E, vdim]; null when packed
  std::shared_ptr<Parameter> in_proj_bias;    ///< [3E]; null without bias
  std::shared_ptr<Linear> out_proj;

 private:
  struct Projected {
    Tensor q, k, v;
  };
  /// q, k, v [N, heads, length, head_dim] from batch-first inputs; one
  /// product when they are one tensor and the projection is packed.
  Projected project(const Tensor& query, const Tensor& key, const Tensor& value,
                    bool self_attention);
  /// The sum of both masks as [N or 1, heads or 1, L, S], or undefined.
  Tensor merged_mask(const Tensor& key_padding_mask, const Tensor& attn_mask, DType dtype,
                     std::int64_t batch, std::int64_t queries, std::int64_t keys) const;

  std::int64_t embed_dim_;
  std::int64_t num_heads_;
  MultiheadAttentionOptions options_;
};

}  // namespace tether::nn
