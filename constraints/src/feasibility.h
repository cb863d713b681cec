// Whether a constraint reproduces a value, shared by ComputedParameter and the
// strategies that check a value themselves (orthogonal, before it sets its base).
#pragma once

#include <string>
#include <vector>

#include "tether/constraint.h"
#include "tether/error.h"

namespace tether::detail {

/// sqrt of the dtype's machine epsilon: a kept value must be reproduced within
/// this times its largest |element|, and ValuePolicy::nearest stays this far
/// (relative) inside an open boundary.
double feasibility_tolerance(DType dtype);

/// "" when every raw input is finite and `reproduced` (forward of `raw`)
/// matches `value` within tolerance. Else "<name>: cannot hold the value
/// (expected <condition>): element [i, j] is v, which becomes w", naming the
/// element missed most (a NaN or a non-finite raw input counts as the worst);
/// an element reproduced only from a non-finite raw input r (0 in positive(),
/// whose raw input would be -inf) ends "..., which needs a non-finite raw
/// input (r)" instead.
std::string miss_report(const Constraint& constraint, const Tensor& value, const Tensor& reproduced,
                        const std::vector<Tensor>& raw);

/// A value outside a constraint's feasible set, thrown by a right_inverse that
/// checks it itself; the message is a miss_report.
class Infeasible : public ValueError {
 public:
  using ValueError::ValueError;
};

}  // namespace tether::detail
