// Scaled dot-product attention as one node. Composed of ops it would record
// six nodes and keep the scores, the masked scores and the probabilities for
// backward; here the forward runs unrecorded and the backward keeps only q,
// k, v, the probabilities P (and the dropout mask, and attn_mask, an input),
// with the softmax's gradient written out: dS = P * (dP - rowsum(dP * P)).
#include <cmath>
#include <limits>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

/// The additive mask of a causal attention: -inf where a key comes after the
/// query (col > row), 0 elsewhere.
Tensor causal_mask(std::int64_t queries, std::int64_t keys, const TensorOptions& options) {
  return triu(full({queries, keys}, -std::numeric_limits<double>::infinity(), options), 1);
}

/// softmax(q k^T * scale + mask) along the keys. q is scaled before the
/// product, as torch does: with E = 0 the scale is infinite but q is empty,
/// so the scores are zeros rather than 0 * inf.
Tensor attention_probabilities(const Tensor& q, const Tensor& k, const Tensor& mask, double scale) {
  Tensor scores = matmul(q * scale, k.mT());
  if (mask.defined()) scores = scores + mask;
  return softmax(scores, -1);
}

void check_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                     double dropout_p, bool is_causal) {
  check_floating(kOp, q);
  check_same_dtype(kOp, q, k);
  check_same_dtype(kOp, q, v);
  check_same_device(kOp, q, k);
  check_same_device(kOp, q, v);
  if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2)
    fail<ShapeError>(kOp, ": expected query [..., L, E], key [..., S, E] and value [..., S, Ev], ",
                     "got ", q.shape(), ", ", k.shape(), " and ", v.shape());
  if (q.size(-1) != k.size(-1) || k.size(-2) != v.size(-2))
    fail<ShapeError>(kOp, ": expected query [..., L, E], key [..., S, E] and value [..., S, Ev] ",
                     "with matching E and S, got ", q.shape(), ", ", k.shape(), " and ", v.shape());
  const Shape batch =
      broadcast_shapes(kOp, broadcast_shapes(kOp, batch_shape(q), batch_shape(k)), batch_shape(v));
  if (!(dropout_p >= 0 && dropout_p <= 1))
    fail<ValueError>(kOp, ": expected dropout_p in [0, 1], got ", dropout_p);
  if (!mask.defined()) return;
  if (is_causal)
    fail<ValueError>(kOp, ": an explicit attn_mask cannot be combined with is_causal (put the ",
                     "causal -inf entries into the mask instead)");
  if (mask.dtype() != q.dtype() && mask.dtype() != DType::boolean)
    fail<DTypeError>(kOp, ": expected a bool attn_mask or an additive one of the query's dtype ",
                     q.dtype(), ", got ", mask.dtype());
  check_same_device(kOp, q, mask);
  broadcast_shapes(kOp, mask.shape(), matrices_shape(batch, q.size(-2), k.size(-2)));
}

/// A bool mask (true = attend, as torch's) as the additive mask it stands
/// for: 0 where a key is attended, -inf where it is not.
Tensor additive_mask(const Tensor& mask, const Tensor& q) {
  if (!mask.defined() || mask.dtype() != DType::boolean) return mask;
  return full(mask.shape(), -std::numeric_limits<double>::infinity(), q.options())
      .masked_fill(mask, 0.0);
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale) {
  check_arguments(query, key, value, attn_mask, dropout_p, is_causal);
  const Tensor mask = additive_mask(attn_mask, query);
  const double factor = scale.value_or(1 / std::sqrt(static_cast<double>(query.size(-1))));
  // The causal mask is not saved: only a recompute under create_graph needs
  // it again, and it is cheaper to rebuild than to keep.
  const auto full_mask = [is_causal](const Tensor& q, const Tensor& k, const Tensor& mask) {
    return is_causal ? causal_mask(q.size(-2), k.size(-2), q.options()) : mask;
  };
  Tensor probabilities, dropout_scale, out;
  {
    NoGradGuard no_grad;
    probabilities = attention_probabilities(query, key, full_mask(query, key, mask), factor);
    Tensor weights = probabilities;
    if (dropout_p > 0) {
      // Kept weights are scaled by 1 / (1 - p); at p = 1 all are dropped, and
      // zeros avoid the 0 * inf of that scale.
      dropout_scale = dropout_p < 1
                          ? (rand(probabilities.shape(), probabilities.options()) >= dropout_p)
                                    .to(probabilities.dtype()) *
                                (1 / (1 - dropout_p))
                          : zeros_like(probabilities);
      weights = probabilities * dropout_scale;
    }
    out = matmul(weights, value);
  }
  return record(kOp, {query, key, value, attn_mask}, out,
                {query, key, value, probabilities, mask, dropout_scale},
                [factor, full_mask](Node& n, const Tensor& g) -> GradList {
                  const Tensor q = n.saved(0), k = n.saved(1), v = n.saved(2), mask = n.saved(4),
                               dropout_scale = n.saved(5);
                  // With create_graph the gradients must know how P depends on q, k and
                  // the mask, so P is recomputed by recorded ops; otherwise the saved P serves.
                  const Tensor p = is_grad_enabled() ? attention_probabilities(
                                                           q, k, full_mask(q, k, mask), factor)
                                                     : n.saved(3);
                  const auto dropped = [&](const Tensor& x) {
                    return dropout_scale.defined() ? x * dropout_scale : x;
                  };
                  GradList grads(4);
                  if (n.needs_grad(2))
                    grads[2] = sum_to_shape(matmul(dropped(p).mT(), g), v.shape());
                  if (!n.needs_grad(0) && !n.needs_grad(1) && !n.needs_grad(3)) return grads;
                  const Tensor dp = dropped(matmul(g, v.mT()));
                  const Tensor ds = p * (dp - sum(dp * p, {-1}, true));
                  if (n.needs_grad(0)) grads[0] = sum_to_shape(matmul(ds, k) * factor, q.shape());
                  if (n.needs_grad(1))
                    grads[1] = sum_to_shape(matmul(ds.mT(), q * factor), k.shape());
                  if (n.needs_grad(3)) grads[3] = sum_to_shape(ds, mask.shape());
                  return grads;
                });
}

}  // namespace tether
