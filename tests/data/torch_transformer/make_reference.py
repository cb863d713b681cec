#!/usr/bin/python3
"""Attention and transformer layers built in PyTorch, for tests/nn_transformer_torch_test.cpp.

    /usr/bin/python3 tests/data/torch_transformer/make_reference.py

Needs Debian's python3-torch (1.13); the build and CI never run it. Each
file holds one module's state_dict under torch's own keys, its inputs under
"input.<name>" and its eval-mode outputs under "output.<name>", all f32, in
the safetensors format written by hand (8-byte little-endian header length,
JSON header, data): torch 1.13 has no safetensors package.

Masks are stored in their additive form (0 or -inf, "input.*_mask"), which
tether takes; torch gets the same masks as bool (True = masked), since its
1.13 layers give other outputs for a float key_padding_mask beside a float
attn_mask.

mha.safetensors          MultiheadAttention(8, 2), sequence-first, packed
                         in_proj_weight; key_padding_mask and a 2-d
                         attn_mask; weights averaged over heads.
mha_kvdim.safetensors    MultiheadAttention(8, 2, kdim=5, vdim=6,
                         batch_first=True): q/k/v_proj_weight; per-head
                         weights; a 3-d attn_mask [N * heads, L, S].
encoder_layer.safetensors  TransformerEncoderLayer(8, 2, 16, gelu,
                         batch_first=True), post-norm; causal src_mask and
                         src_key_padding_mask.
encoder.safetensors      TransformerEncoder of two norm_first
                         TransformerEncoderLayer(8, 2, 16) (relu,
                         sequence-first) with a final LayerNorm.
decoder_layer.safetensors  TransformerDecoderLayer(8, 2, 16,
                         batch_first=True), post-norm; causal tgt_mask and
                         memory_key_padding_mask.
decoder.safetensors      TransformerDecoder of two norm_first
                         TransformerDecoderLayer(8, 2, 16) (sequence-first)
                         with a final LayerNorm; causal tgt_mask and a
                         memory_mask.

The inputs require grad while the outputs are computed: that keeps torch off
its inference fast path (nested tensors), whose padded outputs differ.
"""
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "torch_checkpoints"))
from make_checkpoints import write  # noqa: E402  (the safetensors writer, by hand)


def additive(mask):
    """A bool mask (True = masked) as 0 and -inf."""
    return torch.zeros(mask.shape).masked_fill(mask, float("-inf"))


def causal(n):
    return torch.triu(torch.ones(n, n, dtype=torch.bool), 1)


def leaf(*shape):
    return torch.randn(*shape).requires_grad_()


def save(name, module, inputs, outputs):
    tensors = dict(module.state_dict())
    tensors.update({"input." + k: v for k, v in inputs.items()})
    tensors.update({"output." + k: v for k, v in outputs.items()})
    write(os.path.join(HERE, name), tensors)


def mha():
    torch.manual_seed(1)
    module = nn.MultiheadAttention(8, 2).eval()
    query, key, value = leaf(3, 2, 8), leaf(4, 2, 8), leaf(4, 2, 8)
    padding = torch.tensor([[False, False, True, False], [False, False, False, True]])
    attn = torch.tensor([[False, True, False, False]] * 3)
    out, weights = module(query, key, value, key_padding_mask=padding, attn_mask=attn)
    save("mha.safetensors", module,
         {"query": query, "key": key, "value": value,
          "key_padding_mask": additive(padding), "attn_mask": additive(attn)},
         {"output": out, "weights": weights})


def mha_kvdim():
    torch.manual_seed(2)
    module = nn.MultiheadAttention(8, 2, kdim=5, vdim=6, batch_first=True).eval()
    query, key, value = leaf(2, 3, 8), leaf(2, 4, 5), leaf(2, 4, 6)
    attn = torch.randn(4, 3, 4)
    out, weights = module(query, key, value, attn_mask=attn, average_attn_weights=False)
    save("mha_kvdim.safetensors", module,
         {"query": query, "key": key, "value": value, "attn_mask": attn},
         {"output": out, "weights": weights})


def encoder_layer():
    torch.manual_seed(3)
    module = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True).eval()
    src = leaf(2, 5, 8)
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    out = module(src, src_mask=causal(5), src_key_padding_mask=padding)
    save("encoder_layer.safetensors", module,
         {"src": src, "src_mask": additive(causal(5)), "src_key_padding_mask": additive(padding)},
         {"output": out})


def encoder():
    torch.manual_seed(4)
    layer = nn.TransformerEncoderLayer(8, 2, 16, norm_first=True)
    module = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)).eval()
    # The two layers start as copies of one; make them differ.
    with torch.no_grad():
        for p in module.layers[1].parameters():
            p.add_(0.1 * torch.randn(p.shape))
    src = leaf(5, 2, 8)
    out = module(src, mask=causal(5))
    save("encoder.safetensors", module,
         {"src": src, "mask": additive(causal(5))}, {"output": out})


def decoder_layer():
    torch.manual_seed(5)
    module = nn.TransformerDecoderLayer(8, 2, 16, batch_first=True).eval()
    tgt, memory = leaf(2, 4, 8), leaf(2, 6, 8)
    padding = torch.tensor([[False] * 6, [False, False, False, False, True, True]])
    out = module(tgt, memory, tgt_mask=causal(4), memory_key_padding_mask=padding)
    save("decoder_layer.safetensors", module,
         {"tgt": tgt, "memory": memory, "tgt_mask": additive(causal(4)),
          "memory_key_padding_mask": additive(padding)},
         {"output": out})


def decoder():
    torch.manual_seed(6)
    layer = nn.TransformerDecoderLayer(8, 2, 16, norm_first=True)
    module = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(8)).eval()
    with torch.no_grad():  # as in encoder(): layers that differ
        for p in module.layers[1].parameters():
            p.add_(0.1 * torch.randn(p.shape))
    tgt, memory = leaf(4, 2, 8), leaf(5, 2, 8)
    memory_mask = torch.tensor([[False, False, False, True, False]] * 4)
    out = module(tgt, memory, tgt_mask=causal(4), memory_mask=memory_mask)
    save("decoder.safetensors", module,
         {"tgt": tgt, "memory": memory, "tgt_mask": additive(causal(4)),
          "memory_mask": additive(memory_mask)},
         {"output": out})


if __name__ == "__main__":
    mha()
    mha_kvdim()
    encoder_layer()
    encoder()
    decoder_layer()
    decoder()
