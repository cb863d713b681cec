// Attention and transformer layers, the normalisation layers and activations
// transformers use, Embedding's padding_idx and the position encoding. Their
// agreement with PyTorch's outputs is nn_transformer_torch_test.cpp's.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "tensor_checks.h"
#include "tether/tether.h"

namespace tether {
namespace {

using Catch::Matchers::Contains;
using testing::max_abs_diff;

std::set<std::string> keys(nn::Module& module) {
  std::set<std::string> names;
  for (const auto& [name, tensor] : module.state_dict()) names.insert(name);
  return names;
}

TEST_CASE(
    "MultiheadAttention's state_dict keys are torch's, packed or separate, with or "
    "without bias",
    "[nn][transformer]") {
  nn::MultiheadAttention packed(8, 2);
  CHECK(keys(packed) == std::set<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                              "out_proj.bias"});
  CHECK(packed.in_proj_weight->value().shape() == Shape{24, 8});
  nn::MultiheadAttention separate(8, 2, {.bias = false, .kdim = 3});
  CHECK(keys(separate) == std::set<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                "out_proj.weight"});
  CHECK(separate.k_proj_weight->value().shape() == Shape{8, 3});
  CHECK(separate.v_proj_weight->value().shape() == Shape{8, 8});
}

TEST_CASE(
    "MultiheadAttention's fused and explicit paths, its self-attention product and its "
    "unbatched input agree",
    "[nn][transformer]") {
  manual_seed(5);
  nn::MultiheadAttention attention(6, 3, {.batch_first = true, .options = DType::f64});
  const Tensor x = randn({2, 4, 6}, DType::f64), memory = randn({2, 5, 6}, DType::f64);
  const Tensor mask = nn::generate_square_subsequent_mask(4, DType::f64);
  const auto [explicit_out, weights] = attention.forward(x, x, x, {}, true, mask);
  const Tensor fused = attention.forward(x, x, x, {}, false, mask).output;
  CHECK(max_abs_diff(explicit_out, fused) < 1e-12);
  // Three handles of the same values take the three-product path.
  CHECK(max_abs_diff(attention.forward(x, x.clone(), x.clone(), {}, false, mask).output, fused) <
        1e-12);
  CHECK(weights.shape() == Shape{2, 4, 4});
  CHECK(max_abs_diff(sum(weights, {-1}), ones({2, 4}, DType::f64)) < 1e-12);
  const Tensor cross = attention.forward(x, memory, memory, {}, false).output;
  const Tensor single =
      attention.forward(x.select(0, 1), memory.select(0, 1), memory.select(0, 1), {}, false).output;
  CHECK(max_abs_diff(single, cross.select(0, 1)) < 1e-12);
}

TEST_CASE("MultiheadAttention is differentiable in its inputs and weights (gradcheck)",
          "[nn][transformer]") {
  manual_seed(6);
  nn::MultiheadAttention attention(4, 2, {.options = DType::f64});
  const Tensor q = randn({3, 2, 4}, DType::f64).requires_grad_();
  const Tensor kv = randn({5, 2, 4}, DType::f64).requires_grad_();
  const Tensor w = attention.in_proj_weight->value();
  CHECK_NOTHROW(gradcheck(
      [&](const std::vector<Tensor>& in) {
        return attention.forward(in[0], in[1], in[1], {}, false).output;
      },
      {q, kv}));
  CHECK(autograd::grad({sum(attention.forward(q, kv, kv).output)}, {w})[0].shape() == Shape{12, 4});
}

TEST_CASE("MultiheadAttention drops attention weights only in training mode", "[nn][transformer]") {
  manual_seed(7);
  nn::MultiheadAttention attention(4, 2, {.dropout = 0.5});
  const Tensor x = randn({3, 2, 4});
  attention.eval();
  const Tensor first = attention.forward(x, x, x, {}, false).output;
  CHECK(max_abs_diff(first, attention.forward(x, x, x, {}, false).output) == 0);
  attention.train();
  CHECK(max_abs_diff(first, attention.forward(x, x, x, {}, false).output) > 1e-3);
}

TEST_CASE("MultiheadAttention refuses masks of the wrong shape or dtype, naming itself",
          "[nn][transformer]") {
  nn::MultiheadAttention attention(4, 2);
  const Tensor x = randn({3, 2, 4});
  CHECK_THROWS_WITH(attention.forward(x, x, x, zeros({3, 2})),
                    Contains("MultiheadAttention: expected key_padding_mask [N, S] = [2, 3]"));
  CHECK_THROWS_WITH(attention.forward(x, x, x, {}, true, zeros({2, 3})),
                    Contains("MultiheadAttention: expected attn_mask [L, S] = [3, 3]"));
  CHECK_THROWS_AS(attention.forward(x, x, x, zeros({2, 3}, DType::i64)), DTypeError);
  CHECK_THROWS_WITH(attention.forward(x, randn({3, 2, 5}), x),
                    Contains("MultiheadAttention: expected query [L, N, 4]"));
  CHECK_THROWS_AS(nn::MultiheadAttention(6, 4), ValueError);
}

TEST_CASE("TransformerEncoderLayer and TransformerDecoderLayer have torch's state_dict keys",
          "[nn][transformer]") {
  nn::TransformerEncoderLayer encoder(8, 2, {.dim_feedforward = 16});
  const std::set<std::string> encoder_keys = {"self_attn.in_proj_weight",
                                              "self_attn.in_proj_bias",
                                              "self_attn.out_proj.weight",
                                              "self_attn.out_proj.bias",
                                              "linear1.weight",
                                              "linear1.bias",
                                              "linear2.weight",
                                              "linear2.bias",
                                              "norm1.weight",
                                              "norm1.bias",
                                              "norm2.weight",
                                              "norm2.bias"};
  CHECK(keys(encoder) == encoder_keys);
  nn::TransformerDecoderLayer decoder(8, 2, {.dim_feedforward = 16});
  std::set<std::string> decoder_keys = encoder_keys;
  for (const char* key : {"multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
                          "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
                          "norm3.weight", "norm3.bias"})
    decoder_keys.insert(key);
  CHECK(keys(decoder) == decoder_keys);
}

TEST_CASE("TransformerEncoder's layers start as copies of the given layer and train apart",
          "[nn][transformer]") {
  manual_seed(8);
  nn::TransformerEncoderLayer layer(8, 2, {.dim_feedforward = 16, .dropout = 0.0});
  nn::TransformerEncoder encoder(layer, 3);
  REQUIRE(encoder.layers.size() == 3);
  CHECK(keys(encoder).count("layers.2.linear2.bias") == 1);
  for (const auto& copy : encoder.layers)
    CHECK(max_abs_diff(copy->linear1->weight->value(), layer.linear1->weight->value()) == 0);
  CHECK_FALSE(encoder.layers[0]->linear1->weight->value().is_same(
      encoder.layers[1]->linear1->weight->value()));
  const Tensor x = randn({5, 2, 8});
  CHECK(encoder.forward(x, nn::generate_square_subsequent_mask(5)).shape() == Shape{5, 2, 8});
  layer.linear1->weight = sigma_reparameterize(layer.linear1->weight);
  CHECK_THROWS_WITH(nn::TransformerEncoder(layer, 2),
                    Contains("TransformerEncoder: the layer's slot linear1.weight is not a raw"));
}

TEST_CASE("TransformerDecoder's layers start as copies of the given layer, under torch's keys",
          "[nn][transformer]") {
  manual_seed(10);
  nn::TransformerDecoderLayer layer(8, 2, {.dim_feedforward = 16, .dropout = 0.0});
  nn::TransformerDecoder decoder(layer, 2, std::make_shared<nn::LayerNorm>(Shape{8}));
  REQUIRE(decoder.layers.size() == 2);
  CHECK(keys(decoder).count("layers.1.multihead_attn.in_proj_weight") == 1);
  CHECK(keys(decoder).count("norm.weight") == 1);
  CHECK(max_abs_diff(decoder.layers[1]->norm3->weight->value(), layer.norm3->weight->value()) == 0);
  const Tensor tgt = randn({4, 3, 8});
  const Tensor memory = randn({6, 3, 8});
  CHECK(decoder.forward(tgt, memory, nn::generate_square_subsequent_mask(4)).shape() ==
        Shape{4, 3, 8});
  CHECK_THROWS_WITH(nn::TransformerDecoder(layer, 0),
                    Contains("TransformerDecoder: expected a positive num_layers, got 0"));
  layer.linear2->weight = sigma_reparameterize(layer.linear2->weight);
  CHECK_THROWS_WITH(nn::TransformerDecoder(layer, 2),
                    Contains("TransformerDecoder: the layer's slot linear2.weight is not a raw"));
}

TEST_CASE("a causal TransformerEncoderLayer's output at a position ignores later positions",
          "[nn][transformer]") {
  manual_seed(9);
  nn::TransformerEncoderLayer layer(8, 2, {.dim_feedforward = 16, .batch_first = true});
  layer.eval();
  const Tensor x = randn({1, 6, 8});
  const Tensor changed = cat({narrow(x, 1, 0, 4), randn({1, 2, 8})}, 1);
  const Tensor mask = nn::generate_square_subsequent_mask(6);
  CHECK(max_abs_diff(narrow(layer.forward(x, mask), 1, 0, 4),
                     narrow(layer.forward(changed, mask), 1, 0, 4)) < 1e-6);
}

TEST_CASE("RMSNorm divides by the root mean square and scales by its weight", "[nn]") {
  nn::RMSNorm norm(Shape{2}, 0.0, true, DType::f64);
  CHECK(keys(norm) == std::set<std::string>{"weight"});
  const Tensor y = norm.forward(testing::f64({3, 4, 1, -1}, {2, 2}));
  // rms([3, 4]) = sqrt(12.5), rms([1, -1]) = 1.
  const double r = std::sqrt(12.5);
  CHECK(max_abs_diff(y, testing::f64({3 / r, 4 / r, 1, -1}, {2, 2})) < 1e-15);
  CHECK_THROWS_WITH(norm.forward(zeros({2, 3})), Contains("RMSNorm: expected input [..., [2]]"));
}

TEST_CASE("GroupNorm normalises each group of channels per sample, then scales per channel",
          "[nn]") {
  nn::GroupNorm norm(2, 4, 0.0, true, DType::f64);
  CHECK(keys(norm) == std::set<std::string>{"weight", "bias"});
  norm.weight->value().detach().copy_(testing::f64({1, 1, 2, 2}, {4}));
  // Channels {0, 1} hold [1, 3] and [5, 7] (mean 4, variance 5); {2, 3} all 2 but one 6.
  const Tensor x = testing::f64({1, 3, 5, 7, 2, 2, 2, 6}, {1, 4, 2});
  const double s = std::sqrt(5.0), t = std::sqrt(3.0);
  const Tensor expected =
      testing::f64({-3 / s, -1 / s, 1 / s, 3 / s, -2 / t, -2 / t, -2 / t, 6 / t}, {1, 4, 2});
  CHECK(max_abs_diff(norm.forward(x), expected) < 1e-12);
  CHECK_THROWS_AS(nn::GroupNorm(3, 4), ValueError);
  CHECK_THROWS_WITH(norm.forward(zeros({1, 3, 2}, DType::f64)),
                    Contains("GroupNorm: expected input [N, 4, ...]"));
}

TEST_CASE("SiLU, Mish and Identity give x sigmoid(x), x tanh(softplus(x)) and x", "[nn]") {
  const Tensor x = testing::f64({-1.5, 0.0, 2.0}, {3});
  const std::vector<double> v = {-1.5, 0.0, 2.0};
  std::vector<double> silu, mish;
  for (double e : v) {
    silu.push_back(e / (1 + std::exp(-e)));
    mish.push_back(e * std::tanh(std::log1p(std::exp(e))));
  }
  CHECK(max_abs_diff(nn::SiLU().forward(x), testing::f64(silu, {3})) < 1e-15);
  CHECK(max_abs_diff(nn::Mish().forward(x), testing::f64(mish, {3})) < 1e-15);
  CHECK(nn::Identity().forward(x).is_same(x));
}

TEST_CASE("Embedding's padding row starts at zero, is looked up, and gets no gradient", "[nn]") {
  nn::Embedding embedding(5, 3, -1);
  REQUIRE(embedding.padding_idx() == 4);
  const Tensor table = embedding.weight->value();
  CHECK(max_abs_diff(table.select(0, 4), zeros({3})) == 0);
  {
    NoGradGuard no_grad;
    table.select(0, 4).fill_(2.0);
  }
  const Tensor indices = tensor({4, 1, 4, 1}, {2, 2}, DType::i64);
  const Tensor out = embedding.forward(indices);
  CHECK(max_abs_diff(out.select(0, 0).select(0, 0), full({3}, 2.0)) == 0);
  sum(out).backward();
  const Tensor grad = table.grad();
  CHECK(max_abs_diff(grad.select(0, 4), zeros({3})) == 0);
  CHECK(max_abs_diff(grad.select(0, 1), full({3}, 2.0)) == 0);
  CHECK_THROWS_WITH(nn::Embedding(5, 3, 5), Contains("expected padding_idx in [-5, 5), got 5"));
}

TEST_CASE("sinusoidal_position_encoding alternates sin and cos of pos / 10000^(2i / d)",
          "[nn][transformer]") {
  const Tensor pe = nn::sinusoidal_position_encoding(3, 4, DType::f64);
  const double w = 1 / std::pow(10000.0, 2.0 / 4);
  const Tensor expected = testing::f64({0, 1, 0, 1,                                          //
                                        std::sin(1), std::cos(1), std::sin(w), std::cos(w),  //
                                        std::sin(2), std::cos(2), std::sin(2 * w), std::cos(2 * w)},
                                       {3, 4});
  CHECK(max_abs_diff(pe, expected) < 1e-15);
  CHECK_THROWS_AS(nn::sinusoidal_position_encoding(3, 0), ValueError);
}

TEST_CASE(
    "bool attention masks hide where true in MultiheadAttention and attend where true in "
    "scaled_dot_product_attention, as their additive forms") {
  manual_seed(3);
  const Tensor q = randn({2, 3, 4}, DType::f64);
  const Tensor keep = tensor({1.0, 1.0, 0.0}, DType::f64) > 0.5;
  const Tensor additive =
      zeros({3}, DType::f64)
          .masked_fill(logical_not(keep), -std::numeric_limits<double>::infinity());
  CHECK(max_abs_diff(scaled_dot_product_attention(q, q, q, keep),
                     scaled_dot_product_attention(q, q, q, additive)) == 0.0);

  nn::MultiheadAttention attention(4, 2, {.batch_first = true});
  attention.to(DType::f64);
  const Tensor hide = logical_not(keep).unsqueeze(0).expand({2, 3}).contiguous();
  const Tensor hide_additive = additive.unsqueeze(0).expand({2, 3}).contiguous();
  CHECK(max_abs_diff(attention.forward(q, q, q, hide).output,
                     attention.forward(q, q, q, hide_additive).output) == 0.0);
}

}  // namespace
}  // namespace tether
