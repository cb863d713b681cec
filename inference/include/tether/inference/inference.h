// tether::inference: helpers that turn a log density over a model's raw,
// unconstrained parameters into a posterior: Hamiltonian Monte Carlo,
// mean-field variational inference and the Laplace approximation, with the
// chains' diagnostics.
#pragma once

#include "tether/inference/advi.h"
#include "tether/inference/diagnostics.h"
#include "tether/inference/hmc.h"
#include "tether/inference/laplace.h"
#include "tether/inference/log_density.h"
#include "tether/inference/module.h"
