#!/usr/bin/python3
"""Safetensors files written by PyTorch, for tests/nn_checkpoint_torch_test.cpp.

    /usr/bin/python3 tests/data/torch_checkpoints/make_checkpoints.py         # writes the files
    /usr/bin/python3 tests/data/torch_checkpoints/make_checkpoints.py check DIR

Needs Debian's python3-torch (1.13); the build and CI never run it. The
safetensors package is not needed: the format (8-byte little-endian header
length, JSON header, data) is written by hand.

half.safetensors    F16 and BF16 bit patterns of every class (zeros,
                    subnormals, normals, max, inf, NaN; both signs) with
                    torch's f32 values of them; f32 inputs (ties, overflow
                    edges, subnormals) with torch's .half() and .bfloat16().
model.safetensors   a Model (below) trained a few steps in torch, saved with
                    torch's parametrization keys; weight_norm's keys are
                    torch 2.1's ("original0", "original1"), renamed from the
                    1.13 hook's weight_g and weight_v, which compute the same.
expected.safetensors  a fixed input and the model's eval-mode output, and
                    the value of a Linear(5, 3) weight under torch's default
                    orthogonal map for non-square weights ("householder"),
                    whose input tether cannot read: it loads by value.

legacy.safetensors  a LegacyModel trained in torch with the old hooks,
                    torch.nn.utils.spectral_norm and weight_norm (keys
                    "weight_orig", "weight_u", "weight_v"; "weight_g",
                    "weight_v"), with "input", its eval output and the output
                    of one more training-mode forward (a power iteration)
                    under "expected." keys.

check DIR loads DIR/from_tether.safetensors (a tether model saved with
Naming::pytorch, written by the C++ test when TETHER_TORCH_CHECKPOINT_DIR is
set) into the torch Model and compares its eval output for
DIR/from_tether_expected.safetensors's input with tether's, to 1e-6.
"""
import json
import os
import struct
import sys

import torch
from torch.nn.utils import parametrizations, parametrize

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64",
          torch.float16: "F16", torch.bfloat16: "BF16"}
NAMES = {name: dtype for dtype, name in DTYPES.items()}


def write(path, tensors):
    header, chunks, offset = {}, [], 0
    for key, tensor in tensors.items():
        tensor = tensor.detach().contiguous()
        data = tensor.view(torch.int16).numpy().tobytes() if tensor.element_size() == 2 \
            else tensor.numpy().tobytes()
        header[key] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape),
                       "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    header.pop("__metadata__", None)
    tensors = {}
    for key, entry in header.items():
        begin, end = entry["data_offsets"]
        raw = bytearray(blob[8 + length + begin:8 + length + end])
        dtype = NAMES[entry["dtype"]]
        if dtype in (torch.float16, torch.bfloat16):
            tensor = torch.frombuffer(raw, dtype=torch.int16).view(dtype)
        else:
            tensor = torch.frombuffer(raw, dtype=dtype)
        tensors[key] = tensor.reshape(entry["shape"]).clone()
    return tensors


def half_patterns(exponent_bits, fraction_bits):
    fractions = sorted({0, 1, 2, 3, (1 << (fraction_bits - 1)) - 1, 1 << (fraction_bits - 1),
                        (1 << (fraction_bits - 1)) + 1, (1 << fraction_bits) - 2,
                        (1 << fraction_bits) - 1})
    patterns = [sign << 15 | exponent << fraction_bits | fraction
                for sign in (0, 1) for exponent in range(1 << exponent_bits)
                for fraction in fractions]
    return torch.tensor(patterns, dtype=torch.int32).to(torch.int16)


def narrowing_inputs():
    f16_max, bf16_max = 65504.0, torch.finfo(torch.bfloat16).max
    values = [0.0, -0.0, 1.0, -2.5, 1.0 / 3, 3.14159265, 1e-3, 65504.0, 65519.99, 65520.0, 65536.0,
              1e6, 2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -26,
              2.0 ** -26, 1e-8, 1e-30, 1e-40, 1.5e-45, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11,
              1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -8 + 2.0 ** -20, bf16_max,
              3.4e38, float("inf"), float("-inf"), float("nan"), -f16_max]
    values += [-v for v in values[2:20]]
    torch.manual_seed(1)
    inputs = torch.cat([torch.tensor(values, dtype=torch.float32),
                        torch.randn(64) * 10.0 ** torch.randint(-8, 8, (64,)).float()])
    return inputs


class Model(torch.nn.Module):
    """sn: Linear(4, 3) spectrally normalised; orth: Linear(4, 4) orthogonal
    (matrix_exp, the default for a square weight); orth_wide: Linear(5, 3)
    orthogonal with orthogonal_map="matrix_exp"; wn: Linear(3, 2) weight-normed."""

    def __init__(self):
        super().__init__()
        self.sn = parametrizations.spectral_norm(torch.nn.Linear(4, 3))
        self.orth = parametrizations.orthogonal(torch.nn.Linear(4, 4))
        self.orth_wide = parametrizations.orthogonal(torch.nn.Linear(5, 3),
                                                     orthogonal_map="matrix_exp")
        self.wn = torch.nn.utils.weight_norm(torch.nn.Linear(3, 2))

    def forward(self, x):
        h = torch.tanh(self.orth(torch.tanh(self.sn(x)) @ torch.ones(3, 4) / 3 + x))
        return self.wn(torch.tanh(self.orth_wide(torch.cat([h, x[:, :1]], 1))))

    def torch_state(self):
        """state_dict with torch 2.1's weight_norm keys."""
        state = self.state_dict()
        state["wn.parametrizations.weight.original0"] = state.pop("wn.weight_g")
        state["wn.parametrizations.weight.original1"] = state.pop("wn.weight_v")
        return state

    def load_torch_state(self, state):
        state = dict(state)
        state["wn.weight_g"] = state.pop("wn.parametrizations.weight.original0")
        state["wn.weight_v"] = state.pop("wn.parametrizations.weight.original1")
        self.load_state_dict(state)


class LegacyModel(torch.nn.Module):
    """sn: Linear(4, 3) under the spectral_norm hook; wn: Linear(3, 2) under the
    weight_norm hook."""

    def __init__(self):
        super().__init__()
        self.sn = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3))
        self.wn = torch.nn.utils.weight_norm(torch.nn.Linear(3, 2))

    def forward(self, x):
        return self.wn(torch.tanh(self.sn(x)))


def fixed_input():
    return torch.linspace(-1.5, 2.0, 12).reshape(3, 4)


def generate():
    f16 = half_patterns(5, 10).view(torch.float16)
    bf16 = half_patterns(8, 7).view(torch.bfloat16)
    inputs = narrowing_inputs()
    write(os.path.join(HERE, "half.safetensors"),
          {"f16": f16, "f16_as_f32": f16.float(), "bf16": bf16, "bf16_as_f32": bf16.float(),
           "inputs": inputs, "inputs_as_f16": inputs.half(), "inputs_as_bf16": inputs.bfloat16()})

    torch.manual_seed(0)
    model = Model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = fixed_input()
    for _ in range(5):  # training mode: u and v move, the raw inputs leave their start
        optimizer.zero_grad()
        model(x).pow(2).sum().backward()
        optimizer.step()
    model.eval()
    write(os.path.join(HERE, "model.safetensors"), model.torch_state())
    householder = parametrizations.orthogonal(torch.nn.Linear(5, 3))
    with torch.no_grad():
        # Above the diagonal, the strictly lower triangle of the transposed (tall)
        # input that the map reads; it reads the diagonal as signs.
        householder.parametrizations.weight.original.add_(0.3 * torch.randn(3, 5).triu(1))
    write(os.path.join(HERE, "expected.safetensors"),
          {"input": x, "output": model(x), "householder_weight": householder.weight})

    legacy = LegacyModel()
    optimizer = torch.optim.SGD(legacy.parameters(), lr=0.1)
    for _ in range(5):
        optimizer.zero_grad()
        legacy(x).pow(2).sum().backward()
        optimizer.step()
    state = {key: tensor.clone() for key, tensor in legacy.state_dict().items()}
    with torch.no_grad():
        legacy.eval()
        eval_output = legacy(x)
        legacy.train()
        train_output = legacy(x)
    write(os.path.join(HERE, "legacy.safetensors"),
          {**state, "expected.input": x, "expected.eval_output": eval_output,
           "expected.train_output": train_output})


def check(directory):
    model = Model()
    model.load_torch_state(read(os.path.join(directory, "from_tether.safetensors")))
    model.eval()
    expected = read(os.path.join(directory, "from_tether_expected.safetensors"))
    with torch.no_grad():
        error = (model(expected["input"]) - expected["output"]).abs().max().item()
    print(f"torch's output of the tether-saved model differs from tether's by {error:.3g}")
    sys.exit(0 if error <= 1e-6 else 1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        generate()
