// Initialisers, as torch.nn.init: each draws a value of the parameter's shape
// (from the global generator, see manual_seed) and writes it into the
// parameter, whatever kind it is:
//
//   layer->weight = tether::spectrally_normalize(layer->weight);
//   tether::nn::init::orthogonal_(*layer->weight);   // lands in weight.raw
//
// A RawParameter's leaf is overwritten in place, so optimizers holding it see
// the new value. A ComputedParameter takes the drawn value as constrain()
// takes a weight (ComputedParameter::assign with ValuePolicy::keep_or_raw),
// so the write reaches the raw tensors it is computed from instead of a
// cached value the next step would discard: a value the constraint can hold
// is kept exactly (orthogonal_ of an orthogonal() weight), any other
// initialises the raw input, and value() is the constraint applied to it
// (kaiming_uniform_ of a positive() weight gives softplus of the draw;
// spectral norm divides it by its largest singular value). A constraint with
// several raw inputs and no right_inverse is a ValueError. Nothing here
// records a gradient.
#pragma once

#include "tether/parameter.h"

namespace tether::nn::init {

/// What a weight's scale is computed from: its inputs (the default, keeps the
/// forward pass's variance) or its outputs (keeps the backward pass's).
enum class FanMode { fan_in, fan_out };

/// The nonlinearity that follows the layer, for calculate_gain.
enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu };

/// The factor by which a nonlinearity shrinks the standard deviation, inverted:
/// 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + slope^2))
/// (leaky_relu with negative_slope).
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);

/// U(low, high).
void uniform_(Parameter& parameter, double low = 0.0, double high = 1.0);
/// N(mean, std^2).
void normal_(Parameter& parameter, double mean = 0.0, double std = 1.0);
void constant_(Parameter& parameter, double value);
void zeros_(Parameter& parameter);
void ones_(Parameter& parameter);

// The initialisers below scale by the fans of a weight [out, in, *kernel]:
// fan_in = in * prod(kernel), fan_out = out * prod(kernel). They throw
// ValueError for fewer than 2 dims.

/// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).
void xavier_uniform_(Parameter& parameter, double gain = 1.0);
/// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_normal_(Parameter& parameter, double gain = 1.0);
/// U(-b, b) with b = sqrt(3) * gain / sqrt(fan), gain = calculate_gain(
/// nonlinearity, a) (He et al., 2015); `a` is the leaky_relu slope.
void kaiming_uniform_(Parameter& parameter, double a = 0.0, FanMode mode = FanMode::fan_in,
                      Nonlinearity nonlinearity = Nonlinearity::leaky_relu);
/// N(0, std^2) with std = gain / sqrt(fan), gain as kaiming_uniform_.
void kaiming_normal_(Parameter& parameter, double a = 0.0, FanMode mode = FanMode::fan_in,
                     Nonlinearity nonlinearity = Nonlinearity::leaky_relu);
/// gain times a (semi-)orthogonal matrix, the Q of a Gaussian matrix's QR
/// decomposition with R's diagonal made positive (so Q is uniformly
/// distributed), viewed as [out, in * prod(kernel)]: orthonormal rows when
/// out <= the rest, orthonormal columns otherwise (Saxe et al., 2013).
void orthogonal_(Parameter& parameter, double gain = 1.0);

}  // namespace tether::nn::init
