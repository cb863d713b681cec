// Attention and transformer layers built and run by PyTorch 1.13
// (tests/data/torch_transformer/make_reference.py): each file holds a
// module's state_dict under torch's keys, its inputs ("input.") and its
// eval-mode outputs ("output."). tether's layer of the same arguments must
// load the state strictly (same keys, same shapes) and give the same outputs
// to 1e-5.
#include <catch2/catch.hpp>

#include <string>

#include "corpus_files.h"
#include "tensor_checks.h"
#include "tether/tether.h"

namespace tether {
namespace {

/// A reference file, split into the module's state, its inputs and outputs.
struct Reference {
  StateDict state;
  StateDict inputs;
  StateDict outputs;
};

Reference read_reference(const std::string& name) {
  const std::string path = testing::source_tree() / "tests" / "data" / "torch_transformer" / name;
  Reference reference;
  for (const auto& [key, tensor] : nn::load_safetensors(path)) {
    if (key.starts_with("input."))
      reference.inputs[key.substr(6)] = tensor;
    else if (key.starts_with("output."))
      reference.outputs[key.substr(7)] = tensor;
    else
      reference.state[key] = tensor;
  }
  return reference;
}

/// Loads the state strictly into `module`, in eval mode.
void load(nn::Module& module, const Reference& reference) {
  REQUIRE(module.state_dict().size() == reference.state.size());
  module.load_state_dict(reference.state);
  module.eval();
}

void check_close(const Tensor& got, const Tensor& expected) {
  REQUIRE(got.shape() == expected.shape());
  CHECK(testing::max_abs_diff(got, expected) < 1e-5);
}

/// Runs `attention` on the reference's inputs and masks (those it has) and
/// compares the output and weights with torch's.
void check_attention(nn::MultiheadAttention& attention, const Reference& r, bool average) {
  load(attention, r);
  const auto input = [&](const char* name) {
    return r.inputs.count(name) ? r.inputs.at(name) : Tensor();
  };
  const auto [out, weights] =
      attention.forward(input("query"), input("key"), input("value"), input("key_padding_mask"),
                        true, input("attn_mask"), average);
  check_close(out, r.outputs.at("output"));
  check_close(weights, r.outputs.at("weights"));
}

TEST_CASE(
    "MultiheadAttention with torch's packed weights gives torch's output and averaged "
    "weights",
    "[nn][transformer][torch]") {
  nn::MultiheadAttention attention(8, 2);
  check_attention(attention, read_reference("mha.safetensors"), true);
}

TEST_CASE(
    "MultiheadAttention with kdim and vdim loads torch's q/k/v_proj_weight and gives its "
    "output and per-head weights",
    "[nn][transformer][torch]") {
  nn::MultiheadAttention attention(8, 2, {.batch_first = true, .kdim = 5, .vdim = 6});
  check_attention(attention, read_reference("mha_kvdim.safetensors"), false);
}

TEST_CASE(
    "TransformerEncoderLayer with torch's weights gives its output (GELU, batch first, "
    "causal and padding masks)",
    "[nn][transformer][torch]") {
  const Reference r = read_reference("encoder_layer.safetensors");
  nn::TransformerEncoderLayer layer(
      8, 2, {.dim_feedforward = 16, .activation = gelu, .batch_first = true});
  load(layer, r);
  check_close(layer.forward(r.inputs.at("src"), r.inputs.at("src_mask"),
                            r.inputs.at("src_key_padding_mask")),
              r.outputs.at("output"));
}

TEST_CASE("TransformerEncoder of norm_first layers with a final norm gives torch's output",
          "[nn][transformer][torch]") {
  const Reference r = read_reference("encoder.safetensors");
  nn::TransformerEncoderLayer layer(8, 2, {.dim_feedforward = 16, .norm_first = true});
  nn::TransformerEncoder encoder(layer, 2, std::make_shared<nn::LayerNorm>(Shape{8}));
  load(encoder, r);
  check_close(encoder.forward(r.inputs.at("src"), r.inputs.at("mask")), r.outputs.at("output"));
}

TEST_CASE("TransformerDecoderLayer with torch's weights gives its output",
          "[nn][transformer][torch]") {
  const Reference r = read_reference("decoder_layer.safetensors");
  nn::TransformerDecoderLayer layer(8, 2, {.dim_feedforward = 16, .batch_first = true});
  load(layer, r);
  check_close(layer.forward(r.inputs.at("tgt"), r.inputs.at("memory"), r.inputs.at("tgt_mask"), {},
                            {}, r.inputs.at("memory_key_padding_mask")),
              r.outputs.at("output"));
}

TEST_CASE("TransformerDecoder of norm_first layers with a final norm gives torch's output",
          "[nn][transformer][torch]") {
  const Reference r = read_reference("decoder.safetensors");
  nn::TransformerDecoderLayer layer(8, 2, {.dim_feedforward = 16, .norm_first = true});
  nn::TransformerDecoder decoder(layer, 2, std::make_shared<nn::LayerNorm>(Shape{8}));
  load(decoder, r);
  check_close(decoder.forward(r.inputs.at("tgt"), r.inputs.at("memory"), r.inputs.at("tgt_mask"),
                              r.inputs.at("memory_mask")),
              r.outputs.at("output"));
}

}  // namespace
}  // namespace tether
