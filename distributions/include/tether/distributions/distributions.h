// tether::distributions in one include: the Distribution interface and every
// distribution (continuous.h, discrete.h, gamma_family.h, lkj_cholesky.h,
// multivariate_normal.h).
#pragma once

#include "tether/distributions/continuous.h"
#include "tether/distributions/discrete.h"
#include "tether/distributions/distribution.h"
#include "tether/distributions/gamma_family.h"
#include "tether/distributions/lkj_cholesky.h"
#include "tether/distributions/multivariate_normal.h"
#include "tether/distributions/prior.h"
