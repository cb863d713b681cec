// tether: a small reverse-mode autograd and tensor engine.
//
//   #include <tether/tether.h>
//
//   auto w = tether::randn({3, 4}).requires_grad_();
//   auto loss = tether::relu(x.matmul(w)).pow(2.0).mean();
//   loss.backward();          // w.grad() now holds d loss / d w
//
// Headers: tensor.h (the Tensor handle), device.h, ops.h (every differentiable op),
// autograd.h (backward, grad), node.h (record, for your own ops), grad_mode.h
// (NoGradGuard), gradcheck.h, threads.h,
// state_dict.h (StateDict, Metadata);
// parameter.h, constraint.h, constraint_library.h, projection.h, manifold.h (constrained
// parameters); nn/ (modules, Sequential, layers, losses, init); optim/ (optimizers,
// learning-rate schedulers, gradient clipping); train/ (training checkpoints);
// distributions/ (probability distributions: log_prob, sample, rsample); inference/
// (Hamiltonian Monte Carlo, variational inference, Laplace approximation); data/
// (datasets, samplers, the DataLoader).
#pragma once

#include "tether/allocator.h"
#include "tether/autograd.h"
#include "tether/capture.h"
#include "tether/constraint.h"
#include "tether/constraint_library.h"
#include "tether/data/dataloader.h"
#include "tether/data/dataset.h"
#include "tether/data/sampler.h"
#include "tether/device.h"
#include "tether/distributions/distributions.h"
#include "tether/dtype.h"
#include "tether/error.h"
#include "tether/generator.h"
#include "tether/grad_mode.h"
#include "tether/gradcheck.h"
#include "tether/inference/inference.h"
#include "tether/manifold.h"
#include "tether/nn/activation.h"
#include "tether/nn/attention.h"
#include "tether/nn/checkpoint.h"
#include "tether/nn/conv.h"
#include "tether/nn/dropout.h"
#include "tether/nn/embedding.h"
#include "tether/nn/functional.h"
#include "tether/nn/init.h"
#include "tether/nn/linear.h"
#include "tether/nn/module.h"
#include "tether/nn/normalization.h"
#include "tether/nn/pooling.h"
#include "tether/nn/rnn.h"
#include "tether/nn/sequential.h"
#include "tether/nn/transformer.h"
#include "tether/nn/upsampling.h"
#include "tether/nn/conv_transpose.h"
#include "tether/node.h"
#include "tether/ops.h"
#include "tether/optim/clip_grad.h"
#include "tether/optim/optimizer.h"
#include "tether/optim/riemannian.h"
#include "tether/optim/scheduler.h"
#include "tether/parameter.h"
#include "tether/projection.h"
#include "tether/scalar.h"
#include "tether/shape.h"
#include "tether/state_dict.h"
#include "tether/tensor.h"
#include "tether/threads.h"
#include "tether/train/checkpoint.h"
