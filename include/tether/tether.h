// tether: a small reverse-mode autograd and tensor engine.
//
//   #include <tether/tether.h>
//
//   auto w = tether::randn({3, 4}).requires_grad_();
//   auto loss = tether::relu(x.matmul(w)).pow(2.0).mean();
//   loss.backward();          // w.grad() now holds d loss / d w
//
// Headers: tensor.h (the Tensor handle), ops.h (every differentiable op),
// autograd.h (backward, grad), grad_mode.h (NoGradGuard), gradcheck.h.
#pragma once

#include "tether/allocator.h"
#include "tether/autograd.h"
#include "tether/dtype.h"
#include "tether/error.h"
#include "tether/generator.h"
#include "tether/grad_mode.h"
#include "tether/gradcheck.h"
#include "tether/ops.h"
#include "tether/shape.h"
#include "tether/tensor.h"
