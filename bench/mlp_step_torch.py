#!/usr/bin/env python3
"""bench/mlp_step's workload in PyTorch, for a same-run baseline (scripts/gpu-check).

One Adam step (zero_grad, forward, cross_entropy, backward, step; lr 1e-3) of an
MLP 64-256-256-10 with ReLU on the digits data, in two variants: plain, and sn
(the first layer's weight through torch.nn.utils.parametrizations.spectral_norm,
one power iteration per training forward, as tether's spectral_norm). Batches
of --batch rows are cut in order from the data (rows repeat when a batch is
larger than the data set), moved to the device once and cycled in order.

Prints `mlp_step_torch_<variant>_b<N> <us> us`: the median over samples of the
time per step, after warm-up steps. On CUDA each sample ends with
torch.cuda.synchronize(), so the clock sees the kernels finish.
"""
import argparse
import gzip
import pathlib
import statistics
import time

import torch

DATA = pathlib.Path(__file__).resolve().parent.parent / "examples" / "data" / "digits.csv.gz"


def load_digits():
    rows = [[int(v) for v in line.split(",")] for line in gzip.open(DATA, "rt")]
    data = torch.tensor(rows)
    return data[:, :64].float() / 16, data[:, 64]


def slice_batches(images, labels, batch, device):
    rows = labels.shape[0]
    starts = range(0, max(rows - batch, 0) + 1, batch)
    batches = []
    for first in starts:
        index = torch.arange(first, first + batch) % rows
        batches.append((images[index].to(device), labels[index].to(device)))
    return batches


def make_model(spectral, device):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))
    if spectral:
        torch.nn.utils.parametrizations.spectral_norm(model[0])
    return model.to(device)


def time_steps(spectral, batches, device, warmup, samples, steps_per_sample):
    model = make_model(spectral, device)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    position = 0

    def step():
        nonlocal position
        images, labels = batches[position % len(batches)]
        position += 1
        adam.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        adam.step()

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    per_step = []
    for _ in range(samples):
        synchronize()
        start = time.perf_counter()
        for _ in range(steps_per_sample):
            step()
        synchronize()
        per_step.append((time.perf_counter() - start) / steps_per_sample)
    return statistics.median(per_step)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per sample")
    args = parser.parse_args()

    device = torch.device(args.device)
    batches = slice_batches(*load_digits(), args.batch, device)
    for variant in ("plain", "sn"):
        seconds = time_steps(variant == "sn", batches, device, warmup=20, samples=args.samples,
                             steps_per_sample=args.steps)
        print(f"mlp_step_torch_{variant}_b{args.batch} {seconds * 1e6:.1f} us", flush=True)


if __name__ == "__main__":
    main()
