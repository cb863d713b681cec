#include "tether/nn/attention.h"

#include <cmath>
#include <limits>

#include "tether/error.h"
#include "tether/nn/dropout.h"
#include "tether/nn/init.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

constexpr const char* kLayer = "MultiheadAttention";

/// x [N, length, heads * head_dim] as [N, heads, length, head_dim].
Tensor split_heads(const Tensor& x, std::int64_t heads) {
  return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

/// Rows [i * n, (i + 1) * n) of a packed projection's weight or bias; undefined stays undefined.
Tensor packed_part(const Tensor& x, std::int64_t i, std::int64_t n) {
  return x.defined() ? narrow(x, 0, i * n, n) : Tensor();
}

}  // namespace

MultiheadAttention::MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads,
                                       MultiheadAttentionOptions options)
    : embed_dim_(embed_dim), num_heads_(num_heads), options_(options) {
  if (embed_dim <= 0 || num_heads <= 0 || embed_dim % num_heads != 0)
    fail<ValueError>(kLayer, ": expected a positive embed_dim divisible by a positive num_heads, ",
                     "got ", embed_dim, " and ", num_heads);
  if (!(options.dropout >= 0 && options.dropout <= 1))
    fail<ValueError>(kLayer, ": expected dropout in [0, 1], got ", options.dropout);
  const std::int64_t kdim = options.kdim.value_or(embed_dim);
  const std::int64_t vdim = options.vdim.value_or(embed_dim);
  if (kdim <= 0 || vdim <= 0)
    fail<ValueError>(kLayer, ": expected positive kdim and vdim, got ", kdim, " and ", vdim);
  const TensorOptions initial = options.options.with_requires_grad(false);
  const auto projection = [&](const char* name, std::shared_ptr<Parameter>& slot, std::int64_t rows,
                              std::int64_t cols) {
    register_parameter(name, slot, zeros({rows, cols}, initial));
    init::xavier_uniform_(*slot);
  };
  if (kdim == embed_dim && vdim == embed_dim) {
    projection("in_proj_weight", in_proj_weight, 3 * embed_dim, embed_dim);
  } else {
    projection("q_proj_weight", q_proj_weight, embed_dim, embed_dim);
    projection("k_proj_weight", k_proj_weight, embed_dim, kdim);
    projection("v_proj_weight", v_proj_weight, embed_dim, vdim);
  }
  if (options.bias)
    register_parameter("in_proj_bias", in_proj_bias, zeros({3 * embed_dim}, initial));
  out_proj = register_module("out_proj",
                             std::make_shared<Linear>(embed_dim, embed_dim, options.bias, initial));
  if (options.bias) init::zeros_(*out_proj->bias);
}

MultiheadAttention::Projected MultiheadAttention::project(const Tensor& query, const Tensor& key,
                                                          const Tensor& value,
                                                          bool self_attention) {
  const std::int64_t e = embed_dim_;
  const Tensor bias = in_proj_bias ? in_proj_bias->value() : Tensor();
  Tensor q, k, v;
  if (in_proj_weight && self_attention) {
    // One product for all three, cut into its thirds.
    const Tensor qkv = linear(query, in_proj_weight->value(), bias);
    q = narrow(qkv, -1, 0, e);
    k = narrow(qkv, -1, e, e);
    v = narrow(qkv, -1, 2 * e, e);
  } else {
    const Tensor packed = in_proj_weight ? in_proj_weight->value() : Tensor();
    const auto weight = [&](const std::shared_ptr<Parameter>& separate, std::int64_t i) {
      return separate ? separate->value() : packed_part(packed, i, e);
    };
    q = linear(query, weight(q_proj_weight, 0), packed_part(bias, 0, e));
    k = linear(key, weight(k_proj_weight, 1), packed_part(bias, 1, e));
    v = linear(value, weight(v_proj_weight, 2), packed_part(bias, 2, e));
  }
  return {split_heads(q, num_heads_), split_heads(k, num_heads_), split_heads(v, num_heads_)};
}

Tensor MultiheadAttention::merged_mask(const Tensor& key_padding_mask, const Tensor& attn_mask,
                                       DType dtype, std::int64_t batch, std::int64_t queries,
                                       std::int64_t keys) const {
  // A bool mask hides where it is true (the opposite of
  // scaled_dot_product_attention's true = attend): -inf there, 0 elsewhere.
  const auto additive = [&](const Tensor& mask) {
    if (!mask.defined() || mask.dtype() == dtype) return mask;
    if (mask.dtype() != DType::boolean)
      fail<DTypeError>(kLayer, ": expected bool masks or additive ones of the query's dtype ",
                       dtype, ", got ", mask.dtype());
    return zeros(mask.shape(), TensorOptions(mask.device()).with_dtype(dtype))
        .masked_fill(mask, -std::numeric_limits<double>::infinity());
  };
  Tensor mask;
  if (attn_mask.defined()) {
    if (attn_mask.shape() == Shape{queries, keys})
      mask = additive(attn_mask);
    else if (attn_mask.shape() == Shape{batch * num_heads_, queries, keys})
      mask = additive(attn_mask).reshape({batch, num_heads_, queries, keys});
    else
      fail<ShapeError>(kLayer, ": expected attn_mask [L, S] = [", queries, ", ", keys,
                       "] or [N * num_heads, L, S] = [", batch * num_heads_, ", ", queries, ", ",
                       keys, "], got ", attn_mask.shape());
  }
  if (key_padding_mask.defined()) {
    if (key_padding_mask.shape() != Shape{batch, keys})
      fail<ShapeError>(kLayer, ": expected key_padding_mask [N, S] = [", batch, ", ", keys,
                       "], got ", key_padding_mask.shape());
    const Tensor padding = additive(key_padding_mask).reshape({batch, 1, 1, keys});
    mask = mask.defined() ? mask + padding : padding;
  }
  return mask;
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                            const Tensor& value, const Tensor& key_padding_mask,
                                            bool need_weights, const Tensor& attn_mask,
                                            bool average_attn_weights) {
  for (const Tensor* x : {&query, &key, &value}) check_defined(kLayer, *x);
  const bool batched = query.dim() == 3;
  const std::int64_t kdim = options_.kdim.value_or(embed_dim_);
  const std::int64_t vdim = options_.vdim.value_or(embed_dim_);
  // Batch first from here on; an unbatched input is a batch of one.
  const auto batch_first = [&](const Tensor& x) {
    return !batched ? x.unsqueeze(0) : options_.batch_first ? x : x.transpose(0, 1);
  };
  const Tensor q_in = batch_first(query), k_in = batch_first(key), v_in = batch_first(value);
  if ((query.dim() != 2 && query.dim() != 3) || key.dim() != query.dim() ||
      value.dim() != query.dim() || q_in.size(2) != embed_dim_ || k_in.size(2) != kdim ||
      v_in.size(2) != vdim || k_in.size(0) != q_in.size(0) || v_in.size(0) != q_in.size(0) ||
      k_in.size(1) != v_in.size(1))
    fail<ShapeError>(kLayer, ": expected query [L, N, ", embed_dim_, "], key [S, N, ", kdim,
                     "] and value [S, N, ", vdim, "] (N first with batch_first, or no N), got ",
                     query.shape(), ", ", key.shape(), " and ", value.shape());
  const std::int64_t batch = q_in.size(0), queries = q_in.size(1), keys = k_in.size(1);
  const auto [q, k, v] = project(q_in, k_in, v_in, query.is_same(key) && key.is_same(value));
  const Tensor padding =
      batched || !key_padding_mask.defined() ? key_padding_mask : key_padding_mask.unsqueeze(0);
  const Tensor mask = merged_mask(padding, attn_mask, query.dtype(), batch, queries, keys);
  const double dropout = is_training() ? options_.dropout : 0.0;
  Tensor heads, weights;
  if (need_weights) {
    // The weights are needed, so they are computed in the open, as torch does.
    Tensor scores = matmul(q * (1 / std::sqrt(static_cast<double>(q.size(-1)))), k.mT());
    if (mask.defined()) scores = scores + mask;
    weights = softmax(scores, -1);
    if (dropout > 0) weights = Dropout(dropout).forward(weights);
    heads = matmul(weights, v);
  } else {
    heads = scaled_dot_product_attention(q, k, v, mask, dropout);
  }
  Tensor out = out_proj->forward(heads.transpose(1, 2).reshape({batch, queries, embed_dim_}));
  out = !batched ? out.squeeze(0) : options_.batch_first ? out : out.transpose(0, 1);
  if (weights.defined()) {
    if (average_attn_weights) weights = mean(weights, {1});
    if (!batched) weights = weights.squeeze(0);
  }
  return {out, weights};
}

}  // namespace tether::nn
